"""Synthetic unified social credit codes (GB 32100-2015)."""

import numpy as np
import pytest

from scorelab.synth.credit_code import CHARSET, check_character, credit_codes, is_valid


def test_codes_are_valid_unique_and_synthetic():
    """Every code has 18 characters from the 31-character set, a correct check character,
    is unique per firm, and carries the division 000000 that no real firm has."""
    codes = credit_codes(np.arange(20000))
    assert len(set(codes)) == 20000
    assert all(is_valid(c) and c[2:8] == "000000" and c[:2] == "91" for c in codes)
    assert len(CHARSET) == 31 and not set("IOSVZ") & set(CHARSET)


def test_check_character_catches_a_changed_character():
    """Changing any one of the first 17 characters changes the check character (weights 3^i
    mod 31 are all non-zero and 31 is prime), so a single typo never validates."""
    code = credit_codes(np.array([123456]))[0]
    for i in range(17):
        for ch in CHARSET:
            if ch != code[i]:
                typo = code[:i] + ch + code[i + 1:]
                assert not is_valid(typo)
    assert check_character(code[:17]) == code[17]


def test_ids_out_of_range_are_refused():
    """An id that does not fit 9 base-31 characters is refused with a clear message."""
    with pytest.raises(ValueError, match="out of range"):
        credit_codes(np.array([31**9]))
