"""The policy: what to do, per direction and category, with what the detectors found."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from switchboard.config import GuardSettings
from switchboard.guard.types import Action, Category, Direction, Finding


class Policy:
    """``keep``: PII types that are recorded (flagged) but never redacted or blocked."""

    def __init__(
        self,
        actions: Mapping[Direction, Mapping[Category, Action]],
        keep: frozenset[str] = frozenset(),
    ) -> None:
        self._actions = actions
        self._keep = keep

    @classmethod
    def from_settings(cls, settings: GuardSettings) -> Policy:
        return cls(
            {
                Direction.INPUT: {Category(c): Action(a) for c, a in settings.input.items()},
                Direction.OUTPUT: {Category(c): Action(a) for c, a in settings.output.items()},
            },
            frozenset(settings.pii.keep),
        )

    def action_for(self, direction: Direction, category: Category) -> Action:
        """A category the settings leave out is allowed (not checked at all)."""
        return self._actions[direction].get(category, Action.ALLOW)

    def action_of(self, direction: Direction, finding: Finding) -> Action:
        """What to do with this finding: its category's action, at most ``flag`` for a
        kept PII type."""
        action = self.action_for(direction, finding.category)
        if finding.category is Category.PII and finding.type in self._keep:
            return min(action, Action.FLAG, key=lambda a: a.rank)
        return action

    def checks(self, direction: Direction) -> frozenset[Category]:
        """The categories worth scanning for in this direction."""
        return frozenset(c for c, a in self._actions[direction].items() if a is not Action.ALLOW)

    def decide(self, direction: Direction, findings: Iterable[Finding]) -> Action:
        """The strongest action any finding calls for; nothing found is ``allow``."""
        return max(
            (self.action_of(direction, f) for f in findings),
            key=lambda a: a.rank,
            default=Action.ALLOW,
        )
