import pytest
import torch

from plugins.tiny_t2v.text import phrase_tokens, token_states, tokenizer
from worldsim.errors import InputError


def test_token_states_are_padded_and_independent_of_the_batch():
    a = token_states(["one red car on sand"], 12)
    both = token_states(["one red car on sand", "one blue ball"], 12)
    assert a.shape == (1, 12, 384) and both.shape == (2, 12, 384)
    assert torch.allclose(a[0], both[0], atol=1e-5)
    assert not torch.allclose(both[0, 2], both[1, 2])


def test_phrase_tokens_point_at_the_words():
    ids = tokenizer()("one red car on sand")["input_ids"]
    idx = phrase_tokens("one red car on sand", "red car", 12)
    assert tokenizer().convert_ids_to_tokens([ids[i] for i in idx]) == ["red", "car"]
    with pytest.raises(InputError, match="does not occur"):
        phrase_tokens("one red car", "blue car", 12)
    with pytest.raises(InputError, match="beyond"):
        phrase_tokens("one two three four five six red car", "red car", 4)
