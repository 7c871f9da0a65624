"""Is the difference between an experiment's arms more than chance? Plain, well-known tests on
rates (no Django): each arm's rate gets a 95% Wilson score interval, and the two arms are
compared with a two-proportion z-test (pooled standard error, two-sided p-value).

The verdict is deliberately modest: "too few to tell" until each arm has at least
MIN_TRIALS trials and at least MIN_EVENTS events and non-events between them (the usual
condition for the normal approximation), then "likely a real difference" below p = 0.05,
else "no clear difference". It is one look at fixed data, not a sequential test: checking
every day and stopping at the first p < 0.05 finds differences that are not there more often
than 5% of the time, which the page says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
ALPHA = 0.05
MIN_TRIALS = 30
MIN_EVENTS = 5


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of successes/trials (None without trials)."""
    if trials <= 0:
        return None
    p = min(max(successes, 0), trials) / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """(z, two-sided p) of the difference x2/n2 − x1/n1 with the pooled standard error; None
    when there is nothing to compare (an empty arm, or both rates 0 or both 1)."""
    if n1 <= 0 or n2 <= 0:
        return None
    # Counts from separate tables may disagree (an override of a message logged elsewhere):
    # a rate stays within 0..1.
    x1, x2 = min(max(x1, 0), n1), min(max(x2, 0), n2)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (x2 / n2 - x1 / n1) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class RateComparison:
    """One rate of the two arms (control first), its intervals and the test."""

    metric: str
    control: tuple[int, int]  # (events, trials)
    variant: tuple[int, int]
    # True when a higher rate is better (satisfaction), False when lower is (overrides).
    higher_is_better: bool

    @staticmethod
    def _rate(pair: tuple[int, int]) -> float | None:
        return pair[0] / pair[1] if pair[1] else None

    @property
    def control_rate(self) -> float | None:
        return self._rate(self.control)

    @property
    def variant_rate(self) -> float | None:
        return self._rate(self.variant)

    @property
    def control_interval(self) -> tuple[float, float] | None:
        return wilson_interval(*self.control)

    @property
    def variant_interval(self) -> tuple[float, float] | None:
        return wilson_interval(*self.variant)

    @property
    def test(self) -> tuple[float, float] | None:
        return two_proportion_z(*self.control, *self.variant)

    @property
    def p_value(self) -> float | None:
        test = self.test
        return test[1] if test is not None else None

    @property
    def enough_data(self) -> bool:
        (x1, n1), (x2, n2) = self.control, self.variant
        events, non_events = x1 + x2, (n1 - x1) + (n2 - x2)
        return (
            n1 >= MIN_TRIALS
            and n2 >= MIN_TRIALS
            and events >= MIN_EVENTS
            and non_events >= MIN_EVENTS
        )

    @property
    def verdict(self) -> str:
        """ "too few to tell", "no clear difference", or which arm is likely better."""
        p = self.p_value
        if not self.enough_data or p is None:
            return "too few to tell"
        if p >= ALPHA:
            return "no clear difference"
        assert self.control_rate is not None and self.variant_rate is not None
        variant_higher = self.variant_rate > self.control_rate
        better = "variant" if variant_higher == self.higher_is_better else "control"
        return f"likely a real difference: the {better} is better"

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "control": {"events": self.control[0], "trials": self.control[1]},
            "variant": {"events": self.variant[0], "trials": self.variant[1]},
            "control_interval": self.control_interval,
            "variant_interval": self.variant_interval,
            "z": self.test[0] if self.test else None,
            "p_value": self.p_value,
            "verdict": self.verdict,
        }
