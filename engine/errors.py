"""The engine's two exceptions.

`RuleError` is the only error a bad router or rule produces: the rule builder shows its
message next to the offending field, so messages are written for the person editing the
rule, not for a developer. `ClassifierAnswerError` is raised by the strict parser of the
classifier model's answer; callers turn it into "no LLM rule matched" and record why.
"""

from __future__ import annotations


class RuleError(ValueError):
    """A rule, condition or router setting that cannot be used, with a user-facing message.

    `field` names the form field to highlight ("property", "operator", "value",
    "description", "target", …); `rule_id` is set when the error comes from compiling a
    whole router, so the UI can point at the rule.
    """

    def __init__(self, message: str, field: str | None = None, *, rule_id: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule_id = rule_id

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only `rule_id` is not restored by the default exception pickling, and
        # errors may cross process boundaries (Celery results).
        return (_rebuild_rule_error, (self.message, self.field, self.rule_id))


def _rebuild_rule_error(message: str, field: str | None, rule_id: int | None) -> RuleError:
    return RuleError(message, field, rule_id=rule_id)


class ClassifierAnswerError(ValueError):
    """The classifier model's answer is not exactly one offered label (or "none")."""
