from __future__ import annotations

import pytest

from engine import detect_language
from engine.code_heuristic import looks_like_code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Can you explain how the routing of these messages works for our team?", "en"),
        ("Kannst du mir bitte erklären, wie das funktioniert und was ich tun muss?", "de"),
        ("Pouvez-vous m'expliquer comment cela fonctionne pour nous, s'il vous plaît ?", "fr"),
        ("¿Puedes explicarme cómo funciona esto para nosotros, por favor?", "es"),
        ("Puoi spiegarmi come funziona questo per noi, per favore? Grazie della pazienza.", "it"),
        ("Você pode me explicar como isso funciona para nós? Obrigado pela ajuda.", "pt"),
        ("Kun je mij uitleggen hoe dit werkt voor ons en wat ik moet doen?", "nl"),
        ("我们的团队应该如何使用这个模型路由器？", "zh"),
        ("このルーターの使い方を教えてください。", "ja"),
        ("이 라우터를 어떻게 사용하는지 알려주세요.", "ko"),
        ("Объясните, пожалуйста, как работает этот маршрутизатор.", "ru"),
        ("كيف يعمل هذا الموجه من فضلك؟", "ar"),
    ],
)
def test_it_detects_common_languages(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize(
    "text", ["", "ok", "12345 !!!", "kubectl apply -f deploy.yaml", "Hello", "def f(x): return x"]
)
def test_it_says_und_when_unsure(text: str) -> None:
    assert detect_language(text) == "und"


def test_a_few_foreign_words_do_not_flip_the_script() -> None:
    text = "Please translate 東京 into English for the team and explain what it is."
    assert detect_language(text) == "en"


def test_only_the_start_of_a_long_message_is_read() -> None:
    assert (
        detect_language("The answer is that it will be fine. " * 30 + "der die das " * 500) == "en"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Here:\n```\nprint(1)\n```", True),
        ("def f(x):\n    return x + 1", True),
        ("import os\nimport sys", True),
        ("int main() {\n  return 0;\n}", True),
        ("const x = 1;\nlet y = 2;", True),
        ("function go() {\n}", True),
        ("SELECT *\nFROM t;", True),
        ("Class starts at nine; bring books.\nThanks!", False),
        ("def f(): {", False),  # one line is not enough, even with two cues
        ("Just a normal question about my invoice.", False),
        ("", False),
        ("First point; then\nsecond point.", False),
    ],
)
def test_code_heuristic(text: str, expected: bool) -> None:
    assert looks_like_code(text) is expected
