"""The fitter: finds the least shortening of the plan that brings a digest within its budget."""

from collections.abc import Callable
from dataclasses import dataclass

from execlens.judge.digest_plan import FALLBACK_STEPS, STEPS, Facts, Knobs, Step, StepSearch
from execlens.judge.digest_text import dumps, estimate_tokens


@dataclass(frozen=True)
class Rendered:
    """The digest's sections as JSON fragments, values truncated and characters of run text kept."""

    sections: dict[str, str]
    truncated: int
    kept: int


@dataclass(frozen=True)
class Fit:
    """A digest text that fits, the cuts it reports and the characters of run text it kept."""

    text: str
    cuts: list[str]
    kept: int


Render = Callable[[Knobs], Rendered]
Report = tuple[tuple[str, str], ...]  # (kind, message) of each cut, in the order made
State = tuple[Knobs, Report]


class Fitter:
    """Applies the plan's steps in order, as few as needed, until the digest fits the budget."""

    def __init__(self, render: Render, facts: Facts, budget: int, *, may_fit_whole: bool) -> None:
        self.render = render
        self.facts = facts
        self.budget = budget
        self.may_fit_whole = may_fit_whole
        self._cache: dict[Knobs, Rendered] = {}
        self._texts: dict[State, str] = {}

    def fit(self) -> Fit | None:
        """Return the fitting digest, or None when even the hardest cuts leave it over."""
        # When the run's text alone is over budget, rendering it in full would be wasted.
        # Most digests fit whole: the plan's states are worked out only when one does not.
        whole: State = (Knobs(), ())
        if self.may_fit_whole and self._fits(whole):
            return self._result(whole)
        states = self._states()
        if len(states) == 1 or not self._fits(states[-1]):
            return self._fallback(states[-1])
        return self._result(states[self._first_fit(states, 1, len(states) - 1)])

    def result(self, state: State) -> Fit:
        """Return the digest at a state, fitting or not."""
        return self._result(state)

    def last_state(self) -> State:
        """Return the state after every step of the plan."""
        return self._states()[-1]

    def _states(self) -> list[State]:
        states: list[State] = [(Knobs(), ())]
        for step in STEPS:
            states.append(self._step(states[-1], step))
        return [
            state for index, state in enumerate(states) if not index or state != states[index - 1]
        ]

    def _first_fit(self, states: list[State], low: int, high: int) -> int:
        # Digests shrink step by step, so the first fitting state is found by bisection.
        while low < high:
            middle = (low + high) // 2
            if self._fits(states[middle]):
                high = middle
            else:
                low = middle + 1
        return high

    def _fallback(self, state: State) -> Fit | None:
        for step in FALLBACK_STEPS:
            if self._fits(state):
                return self._result(state)
            state = self._search(state) if isinstance(step, StepSearch) else self._step(state, step)
        return self._result(state) if self._fits(state) else None

    def _step(self, state: State, step: Step) -> State:
        if not step.applies(self.facts):
            return state
        knobs, message = step.apply(state[0], self.facts)
        return knobs, _report(state[1], step.kind(), message)

    def _search(self, state: State) -> State:
        # Bisect for the most steps that fit; size grows with the number of steps kept.
        search = StepSearch()
        low, high = 0, self.facts.steps
        while low < high:
            middle = (low + high + 1) // 2
            knobs, message = search.apply(state[0], self.facts, middle)
            if self._fits((knobs, _report(state[1], "step_cap", message))):
                low = middle
            else:
                high = middle - 1
        if low >= self.facts.steps:
            return state
        knobs, message = search.apply(state[0], self.facts, low)
        return knobs, _report(state[1], "step_cap", message)

    def _rendered(self, knobs: Knobs) -> Rendered:
        if knobs not in self._cache:
            self._cache[knobs] = self.render(knobs)
        return self._cache[knobs]

    def _cuts(self, state: State) -> list[str]:
        truncated = self._rendered(state[0]).truncated
        steps = [message for _, message in state[1]]
        if not truncated:
            return steps
        return [f"truncated {truncated:,} long values (cut in the middle, marked …[+N])", *steps]

    def _text(self, state: State) -> str:
        # Checking a state and then returning it would assemble the same text twice.
        if state not in self._texts:
            rendered = self._rendered(state[0]).sections
            self._texts[state] = assemble(rendered, self._cuts(state), state[0])
        return self._texts[state]

    def _fits(self, state: State) -> bool:
        return estimate_tokens(self._text(state)) <= self.budget

    def _result(self, state: State) -> Fit:
        return Fit(self._text(state), self._cuts(state), self._rendered(state[0]).kept)


def _report(report: Report, kind: str, message: str) -> Report:
    # A deeper cut of the same kind replaces the report of the shallower one.
    return (*(entry for entry in report if entry[0] != kind), (kind, message))


def assemble(sections: dict[str, str], cuts: list[str], knobs: Knobs) -> str:
    """Return the digest JSON object from pre-serialised sections plus the cuts so far."""
    # Joining fragments equals json.dumps of the whole object, at a fraction of the cost of
    # re-serialising everything after each step.
    parts = [f'"{key}":{fragment}' for key, fragment in sections.items()]
    if cuts:
        shown = cuts
        if knobs.list_cap is not None and len(cuts) > knobs.list_cap:
            hidden = len(cuts) - knobs.list_cap
            shown = [f"…[+{hidden} earlier cuts]", *cuts[hidden:]]
        parts.append(f'"cuts":{dumps(shown)}')
    return "{" + ",".join(parts) + "}"
