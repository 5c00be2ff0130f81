import pytest

from switchboard.engine.chat_template import ChatTemplate
from switchboard.errors import InvalidRequestError

pytestmark = pytest.mark.unit

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def test_default_chatml_with_generation_prompt() -> None:
    text = ChatTemplate(None).render(MESSAGES)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_template_sees_bos_and_eos() -> None:
    template = ChatTemplate(
        "{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}", "<s>", "</s>"
    )
    assert template.render(MESSAGES) == "<s>Be brief.</s>"


def test_raise_exception_becomes_invalid_request() -> None:
    template = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(InvalidRequestError, match="roles must alternate"):
        template.render(MESSAGES)


def test_sandbox_blocks_python_internals() -> None:
    template = ChatTemplate("{{ messages.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(InvalidRequestError):
        template.render(MESSAGES)


def test_immutable_sandbox_blocks_mutation() -> None:
    template = ChatTemplate("{{ messages.append(1) }}")
    with pytest.raises(InvalidRequestError):
        template.render(MESSAGES)
