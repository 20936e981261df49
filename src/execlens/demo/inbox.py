"""Content pool for the email triager: incoming emails and how a good assistant handles them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Email:
    sender: str
    address: str
    subject: str
    body: str
    category: str
    priority: str
    reply: str  # the body of a good reply; empty when no reply is needed

    @property
    def needs_reply(self) -> bool:
        """Tell whether a good assistant drafts a reply to this email."""
        return bool(self.reply)


LABELS = {
    "support": "Support",
    "billing": "Billing",
    "sales_lead": "Leads",
    "meeting": "Meetings",
    "internal": "Internal",
    "newsletter": "Newsletters",
    "spam": "Spam",
}

INBOX_QUERIES = (
    "is:unread newer_than:1d",
    "is:unread in:inbox -category:promotions",
    "in:inbox newer_than:12h",
    "is:unread label:inbox newer_than:2d",
)

EMAILS = (
    Email(
        "Maria Lopez",
        "maria.lopez@brightlane.co",
        "Export to CSV stopped working",
        "Hi, since yesterday the 'Export to CSV' button on the reports page just spins and "
        "nothing downloads. We need the March numbers for a board meeting on Thursday. Is "
        "there a workaround?",
        "support",
        "high",
        "We are looking into the export problem now. So you are covered for Thursday, I can "
        "send you the March report as a CSV by tomorrow; just confirm which workspace it is "
        "for.",
    ),
    Email(
        "Tom Becker",
        "t.becker@northfieldlogistics.de",
        "Invoice INV-20417 charged twice",
        "Hello, our card was charged twice for invoice INV-20417 (EUR 249.00) on the 3rd. "
        "Could you refund the duplicate charge? Statement attached.",
        "billing",
        "high",
        "I am sorry about the duplicate charge. I have asked our billing team to refund the "
        "second payment of EUR 249.00; it should be back on your card within five to seven "
        "working days.",
    ),
    Email(
        "Priya Raman",
        "priya@kiteandkettle.com",
        "Pricing for 40 seats?",
        "We are a 40-person design studio evaluating tools for next quarter. Do you offer "
        "volume pricing, and is SSO included in the business plan? A short call next week "
        "would be great.",
        "sales_lead",
        "high",
        "SSO is included in the business plan, and we offer volume pricing from 25 seats. "
        "Would Tuesday at 15:00 or Wednesday at 10:00 work for a short call next week?",
    ),
    Email(
        "Daniel Okafor",
        "daniel.okafor@company.internal",
        "Can we move Thursday's sync to 3pm?",
        "Hey, I have a customer call that overlaps our Thursday sync at 2pm. Would 3pm work "
        "instead? Same agenda.",
        "meeting",
        "normal",
        "3pm on Thursday works for me. I will move the invite; the agenda stays the same.",
    ),
    Email(
        "Product Weekly",
        "digest@productweekly.news",
        "Issue #212: onboarding teardown, pricing pages that convert",
        "This week: a teardown of three onboarding flows, why pricing pages with a comparison "
        "table convert better, and five tools we tried so you don't have to.",
        "newsletter",
        "low",
        "",
    ),
    Email(
        "Security Team",
        "no-reply@acc0unt-verify-mail.com",
        "Your mailbox will be suspended",
        "Dear user, your mailbox storage is full and will be suspended in 24 hours. Click "
        "here to verify your account and keep receiving email.",
        "spam",
        "low",
        "",
    ),
    Email(
        "Lena Fischer",
        "lena.fischer@company.internal",
        "Q3 roadmap draft for review",
        "Hi all, the Q3 roadmap draft is in the shared folder. Please leave comments by "
        "Friday, especially on the reporting and integrations themes.",
        "internal",
        "normal",
        "I will add my comments to the roadmap draft by Friday. I am especially keen on the "
        "reporting theme and have a few ideas there.",
    ),
    Email(
        "Chen Wei",
        "chen.wei@harbourdental.com",
        "Cannot log in after password reset",
        "I reset my password this morning but the login page keeps saying 'invalid "
        "credentials'. I have tried two browsers. Our front desk needs access today.",
        "support",
        "high",
        "I am sorry for the trouble. Reset links expire after one hour, which usually causes "
        "this. I can send you a fresh link right away; which email address does your account "
        "use?",
    ),
    Email(
        "Accounts Payable",
        "ap@meridianfoods.com",
        "Request for W-9 and updated bank details",
        "Please send your current W-9 and confirm the bank details on file before we process "
        "the April payment run.",
        "billing",
        "normal",
        "Please find our current W-9 attached. The bank details on our latest invoice are "
        "current; if you ever receive a request to change them, please call us before acting "
        "on it.",
    ),
    Email(
        "Jonas Berg",
        "jonas@fjordventures.vc",
        "Intro: fintech founder looking for design partners",
        "Hi, one of our portfolio founders is building reconciliation software for "
        "marketplaces and is looking for two design partners. Open to a 20-minute intro?",
        "sales_lead",
        "normal",
        "We would be happy to take a short intro. Could your founder send a one-pager first "
        "so we can come prepared?",
    ),
    Email(
        "Calendar",
        "calendar-notification@google.com",
        "Invitation: Customer advisory board @ Tue 10:00",
        "You have been invited to 'Customer advisory board' on Tuesday at 10:00-11:00 "
        "(Europe/Berlin). Organizer: sofia.marin@company.internal.",
        "meeting",
        "normal",
        "",
    ),
    Email(
        "Growth Hacks Daily",
        "hello@growthhacksdaily.io",
        "10x your leads with this one trick",
        "Our AI-powered outreach engine sends 5,000 personalised emails a day. Book a demo "
        "this week and get 50% off forever!",
        "spam",
        "low",
        "",
    ),
    Email(
        "Rachel Green",
        "rgreen@oakstreetclinic.org",
        "Feature request: bulk edit appointments",
        "We love the scheduler, but moving 30 appointments one by one when a doctor is off "
        "sick is painful. Any plans for bulk edit?",
        "support",
        "normal",
        "Bulk editing is on our roadmap for next quarter. Until then, you can filter the "
        "calendar by doctor and use 'Reschedule selected' to move a whole day at once.",
    ),
    Email(
        "Marco Rossi",
        "marco.rossi@company.internal",
        "Laptop refresh - pick your model by Friday",
        "IT here: laptop refresh orders close on Friday. Reply with your choice (14-inch or "
        "16-inch) and whether you need a dock.",
        "internal",
        "normal",
        "I will take the 14-inch model, and yes, I need a dock.",
    ),
    Email(
        "Stripe",
        "receipts@stripe.com",
        "Your receipt from Cloudhost [#2291-8841]",
        "Amount paid: $312.40. Date paid: this month. Payment method: Visa ending 4242. "
        "Questions? Contact Cloudhost support.",
        "billing",
        "low",
        "",
    ),
    Email(
        "Aisha Khan",
        "aisha.khan@latticeretail.com",
        "Contract renewal - 15% increase?",
        "Our renewal quote shows a 15% increase compared with last year. Before we sign, can "
        "you explain what changed and whether a two-year term would keep the old price?",
        "billing",
        "high",
        "The increase comes from the new usage tier you moved into this year. If a two-year "
        "term suits you, we can keep last year's price for both years.",
    ),
    Email(
        "UX Collective",
        "newsletter@uxcollective.digest",
        "Designing empty states that help",
        "Empty states are a chance to teach. This issue collects twelve examples of empty "
        "states that guide the user to the next useful action.",
        "newsletter",
        "low",
        "",
    ),
    Email(
        "Sam Patel",
        "sam.patel@clearwaterhotels.com",
        "Webhook deliveries delayed by hours",
        "Since Monday our booking webhooks arrive two to three hours late, which breaks our "
        "housekeeping schedule. Is there an incident?",
        "support",
        "high",
        "We are seeing the delay too and engineering is investigating the webhook queue now. "
        "I will send you an update within four hours.",
    ),
    Email(
        "Elena Petrova",
        "elena@studio-petrova.com",
        "Partnership on a joint webinar?",
        "We run a community of 3,000 freelance designers. Would you be interested in a joint "
        "webinar on client reporting next month?",
        "sales_lead",
        "normal",
        "A joint webinar sounds great. Which dates next month suit you? Happy to set up a "
        "30-minute planning call.",
    ),
    Email(
        "HR Team",
        "people@company.internal",
        "Reminder: submit your expenses by the 25th",
        "A friendly reminder that expense claims for this month must be submitted by the 25th "
        "to be paid with the next salary run.",
        "internal",
        "low",
        "",
    ),
)

REPLY_OPENERS = (
    "Hi {first},\n\nThanks for your email.",
    "Hello {first},\n\nThank you for getting in touch.",
    "Hi {first},\n\nThanks for reaching out.",
)
REPLY_CLOSERS = ("Best regards,", "Kind regards,", "Thanks again,", "Best,")
# Whose inbox it is: every user who runs the triager has their own.
OWNERS = ("Jordan", "Alex", "Sam", "Morgan", "Taylor", "Casey", "Robin", "Jamie")
