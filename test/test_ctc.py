"""Greedy CTC decoding: collapse repeats then drop blanks, with confidences."""
import pytest
import torch

from LPRNet.chars import BLANK, CHARS, encode
from LPRNet.ctc import greedy_decode, greedy_decode_indices

A, B = CHARS.index("A"), CHARS.index("B")


def logits_for(path, p=0.9):
    """Logits [1, 68, T] whose softmax puts probability ~p on each class of ``path``."""
    t = torch.full((1, len(CHARS), len(path)), 0.0)
    for i, c in enumerate(path):
        t[0, c, i] = 10.0
    return t


@pytest.mark.parametrize("path,text", [
    ([A, A, BLANK, B], "AB"),
    ([A, BLANK, A], "AA"),
    ([A, A, A], "A"),
    ([BLANK, BLANK], ""),
    ([BLANK, A, B, B, BLANK, B], "ABB"),
])
def test_greedy_cases(path, text):
    (d,) = greedy_decode(logits_for(path))
    assert d.text == text
    assert len(d.char_confidences) == len(text)


def test_confidences():
    idx, conf = greedy_decode_indices([A, A, BLANK, B], [0.6, 0.9, 0.99, 0.7])
    assert idx == [A, B] and conf == [0.9, 0.7]
    (d,) = greedy_decode(logits_for([BLANK]))
    assert d.confidence == 0.0
    (d,) = greedy_decode(logits_for([A, B]))
    assert 0.99 < d.confidence <= 1.0


def test_batch_and_plate_text():
    text = "皖A12345"
    path = []
    for c in encode(text):
        path += [c, BLANK]
    batch = torch.cat([logits_for(path), logits_for([A, BLANK, A] + [BLANK] * 11)])
    out = greedy_decode(batch)
    assert [d.text for d in out] == [text, "AA"]
    with pytest.raises(ValueError):
        greedy_decode(torch.zeros(68, 18))


def test_encode_rejects_unknown_characters():
    from LPRNet.chars import ORIGINAL_CHARS

    assert encode("京A1234警")[-1] == CHARS.index("警")  # in the 75-class table
    with pytest.raises(ValueError, match="警"):
        encode("京A1234警", ORIGINAL_CHARS)
    with pytest.raises(ValueError, match="Ж"):
        encode("京A1234Ж")
