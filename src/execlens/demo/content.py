"""Content pools for the blog writer: topics, the sources a web search finds, prose fragments."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    fact: str


@dataclass(frozen=True)
class BlogTopic:
    topic: str
    audience: str
    keywords: tuple[str, str, str]
    sources: tuple[Source, Source]


BLOG_TOPICS = (
    BlogTopic(
        "Cutting food waste in small restaurants",
        "independent restaurant owners",
        ("restaurant food waste", "kitchen inventory", "food cost"),
        (
            Source(
                "Five habits of low-waste kitchens",
                "https://www.kitchenledger.net/guides/low-waste-kitchens",
                "Kitchens that log what they throw away for two weeks usually find that a "
                "handful of prep items cause most of the waste.",
            ),
            Source(
                "First in, first out: storage that pays for itself",
                "https://chefworks-journal.com/storage/fifo-basics",
                "Dating every container and rotating stock on delivery days is the cheapest "
                "single change a small kitchen can make.",
            ),
        ),
    ),
    BlogTopic(
        "Heat pumps in older homes",
        "homeowners in cold climates",
        ("heat pump retrofit", "older homes", "heating costs"),
        (
            Source(
                "Do heat pumps work in drafty houses?",
                "https://www.homeenergyfacts.org/heat-pumps/older-homes",
                "Sealing air leaks and adding loft insulation before sizing the unit lets a "
                "smaller, cheaper heat pump keep an older house warm.",
            ),
            Source(
                "Radiators and low flow temperatures",
                "https://retrofitnotes.co.uk/radiators-low-temperature",
                "Many existing radiators can stay if a few of the smallest are swapped for "
                "larger ones, because heat pumps run best at lower water temperatures.",
            ),
        ),
    ),
    BlogTopic(
        "Onboarding remote engineers",
        "engineering managers",
        ("remote onboarding", "engineering teams", "first week"),
        (
            Source(
                "The first ten days of a remote engineer",
                "https://teamcraft.dev/blog/remote-onboarding-first-ten-days",
                "New hires who ship a small change in their first week report feeling "
                "productive much sooner than those who spend it reading documentation.",
            ),
            Source(
                "Onboarding buddies that actually work",
                "https://www.managerbytes.com/onboarding-buddy-programs",
                "A named buddy with a daily 15-minute check-in answers the questions new "
                "starters are too shy to ask in public channels.",
            ),
        ),
    ),
    BlogTopic(
        "Choosing bookkeeping software as a freelancer",
        "freelancers and sole traders",
        ("freelance bookkeeping", "accounting software", "invoicing"),
        (
            Source(
                "What freelancers actually need from accounting tools",
                "https://www.sololedger.io/blog/freelancer-accounting-needs",
                "Bank feeds, invoice reminders and a tax estimate cover what most freelancers "
                "use; payroll and inventory features mostly go unused.",
            ),
            Source(
                "Switching bookkeeping tools mid-year",
                "https://taxtidy.com/articles/switching-bookkeeping-tools",
                "Moving at the start of a tax quarter keeps the export and reconciliation "
                "work to a single afternoon.",
            ),
        ),
    ),
    BlogTopic(
        "Getting a small online shop ready for holiday traffic",
        "e-commerce founders",
        ("holiday sales", "online shop", "site speed"),
        (
            Source(
                "Holiday readiness checklist for small stores",
                "https://shopops.blog/holiday-readiness-checklist",
                "Compressing product images and removing unused apps are the quickest ways to "
                "keep pages fast when traffic spikes.",
            ),
            Source(
                "Shipping cut-off dates customers trust",
                "https://www.parcelwise.com/insights/shipping-cutoffs",
                "Showing a clear order-by date on every product page reduces 'where is my "
                "order' emails in December.",
            ),
        ),
    ),
    BlogTopic(
        "Writing useful alt text for images",
        "content editors",
        ("alt text", "web accessibility", "screen readers"),
        (
            Source(
                "Alt text that describes purpose, not pixels",
                "https://a11yhandbook.org/images/alt-text-purpose",
                "Good alt text says what the image is there to communicate; decorative images "
                "should have an empty alt attribute instead.",
            ),
            Source(
                "Charts and infographics for screen reader users",
                "https://www.inclusivecontent.net/charts-accessible",
                "A chart needs a one-sentence takeaway in its alt text and the full data in a "
                "table or caption nearby.",
            ),
        ),
    ),
    BlogTopic(
        "Growing vegetables on a balcony",
        "urban gardeners",
        ("balcony garden", "container vegetables", "small spaces"),
        (
            Source(
                "Containers that keep roots happy",
                "https://www.citysoilgarden.com/containers-guide",
                "Tomatoes and courgettes need pots of at least 20 litres; herbs and salad "
                "leaves are happy in shallow troughs.",
            ),
            Source(
                "Watering on windy balconies",
                "https://balconybloom.net/watering-windy-balconies",
                "Wind dries containers far faster than sun alone, so self-watering pots or "
                "mulch make the biggest difference on high floors.",
            ),
        ),
    ),
    BlogTopic(
        "Reducing cloud costs at an early-stage startup",
        "startup CTOs",
        ("cloud costs", "startup infrastructure", "FinOps"),
        (
            Source(
                "Where early-stage cloud bills actually go",
                "https://www.costlens.dev/blog/early-stage-cloud-bills",
                "Idle staging environments and oversized databases typically account for "
                "most avoidable spend in young companies.",
            ),
            Source(
                "Budgets and alerts before reserved instances",
                "https://infra-notes.io/posts/budgets-before-commitments",
                "Setting per-service budgets with alerts catches runaway costs before any "
                "long-term commitment is worth considering.",
            ),
        ),
    ),
    BlogTopic(
        "Starting a running habit after 40",
        "beginner runners",
        ("running after 40", "beginner training", "injury prevention"),
        (
            Source(
                "Run-walk plans for new runners",
                "https://www.stridecoach.org/run-walk-plans",
                "Alternating one minute of running with one of walking, three times a week, "
                "builds fitness while giving tendons time to adapt.",
            ),
            Source(
                "Strength work that keeps runners running",
                "https://masterspace-fitness.com/strength-for-runners",
                "Two short sessions of calf raises, squats and lunges each week are linked to "
                "fewer overuse injuries in older beginners.",
            ),
        ),
    ),
    BlogTopic(
        "Pricing a SaaS product for small businesses",
        "SaaS founders",
        ("SaaS pricing", "small business customers", "pricing tiers"),
        (
            Source(
                "Three tiers and a clear upgrade reason",
                "https://www.pricingpractice.co/saas-tiers",
                "Small-business buyers compare plans in seconds, so each tier should differ "
                "by one obvious limit such as seats or projects.",
            ),
            Source(
                "Annual discounts without the regret",
                "https://foundernotes.io/annual-plan-discounts",
                "A discount of about two months for annual billing is common and improves "
                "cash flow without training customers to wait for sales.",
            ),
        ),
    ),
    BlogTopic(
        "Keeping a home office comfortable in winter",
        "remote workers",
        ("home office", "winter comfort", "heating"),
        (
            Source(
                "Heat the person, not the house",
                "https://www.warmdesk.org/heat-the-person",
                "A heated foot mat or desk panel uses a fraction of the energy of heating a "
                "whole room for one person.",
            ),
            Source(
                "Light, posture and the winter slump",
                "https://remotewellness.net/winter-light-posture",
                "Placing the desk beside a window and taking a short walk before noon helps "
                "many people keep their energy up on dark days.",
            ),
        ),
    ),
    BlogTopic(
        "Launching a loyalty programme for a coffee shop",
        "café owners",
        ("loyalty programme", "coffee shop marketing", "repeat customers"),
        (
            Source(
                "Stamp cards versus apps for independent cafés",
                "https://www.beanbusiness.com/loyalty-stamps-vs-apps",
                "Simple stamp cards still outperform apps for cafés with mostly walk-in "
                "customers, because there is nothing to download.",
            ),
            Source(
                "Rewards people remember",
                "https://cafeowners.blog/rewards-that-stick",
                "A free drink after eight visits is easier to remember than points, and "
                "regulars mention it to friends.",
            ),
        ),
    ),
    BlogTopic(
        "Sharing passwords safely in a small team",
        "small business owners",
        ("password manager", "team security", "two-factor authentication"),
        (
            Source(
                "Shared vaults for teams of five to fifty",
                "https://www.securesmallbiz.org/shared-password-vaults",
                "A team password manager with shared vaults removes the spreadsheet of logins "
                "that many small offices still keep.",
            ),
            Source(
                "Offboarding without changing every password",
                "https://opsdesk.io/guides/offboarding-access",
                "Revoking a leaver's vault access and rotating only the secrets they used "
                "takes minutes when access is grouped by role.",
            ),
        ),
    ),
    BlogTopic(
        "Marketing a local gym with short videos",
        "gym owners",
        ("short-form video", "gym marketing", "local audience"),
        (
            Source(
                "What local gyms post that people watch",
                "https://www.fitbizgrowth.com/short-video-ideas",
                "Member stories and 20-second technique tips get more local engagement than "
                "polished promotional clips.",
            ),
            Source(
                "Posting rhythm for small teams",
                "https://socialcraft.studio/posting-rhythm",
                "Three videos a week filmed in one batch session is sustainable for a team "
                "without a dedicated marketer.",
            ),
        ),
    ),
    BlogTopic(
        "Introducing code review to a two-person team",
        "small development teams",
        ("code review", "pull requests", "small teams"),
        (
            Source(
                "Code review when there are only two of you",
                "https://www.shipsmall.dev/code-review-for-two",
                "Keeping pull requests under about 300 changed lines makes same-day reviews "
                "realistic even for a two-person team.",
            ),
            Source(
                "Checklists beat nitpicks",
                "https://reviewhabits.io/checklists",
                "A short shared checklist (tests, naming, error handling) keeps reviews about "
                "substance and avoids style arguments.",
            ),
        ),
    ),
    BlogTopic(
        "Photographing products with a smartphone",
        "online sellers",
        ("product photography", "smartphone camera", "e-commerce images"),
        (
            Source(
                "A window, a white card and a phone",
                "https://www.sellersnaps.com/window-light-setup",
                "Soft daylight from a window with a white card opposite gives even lighting "
                "without buying any studio equipment.",
            ),
            Source(
                "Consistent backgrounds raise conversion",
                "https://shopvisuals.blog/consistent-backgrounds",
                "Using the same background and angle across a catalogue makes listings look "
                "trustworthy and easier to compare.",
            ),
        ),
    ),
)
