"""Synthetic unified social credit codes (GB 32100-2015 format) for the firms of a population.

An 18-character code is: registration authority (1), entity type (1), administrative division
(6), organisation code (9), check character (1), over the 31 characters below (no I, O, S, V,
Z). Codes made here use the division ``000000``, which no real division has, so a synthetic
code can never be a real firm's: they identify simulated firms only, with a valid check
character so they look and validate like the real format.
"""

from __future__ import annotations

import numpy as np

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, ...
SYNTHETIC_DIVISION = "000000"


def check_character(first17: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters."""
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS))
    return CHARSET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """Whether a code has the format and the right check character."""
    return len(code) == 18 and all(ch in CHARSET for ch in code) and check_character(code[:17]) == code[17]


def credit_codes(firm_ids: np.ndarray) -> list[str]:
    """Codes for firm ids: authority 9 (market regulation), type 1 (enterprise), the synthetic
    division, and the id in base 31 as the 9-character organisation code (unique per firm)."""
    out = []
    for fid in np.asarray(firm_ids, dtype=np.int64).tolist():
        if not 0 <= fid < 31**9:
            raise ValueError(f"firm id out of range for a credit code: {fid}")
        digits = []
        for _ in range(9):
            fid, r = divmod(fid, 31)
            digits.append(CHARSET[r])
        first17 = "91" + SYNTHETIC_DIVISION + "".join(reversed(digits))
        out.append(first17 + check_character(first17))
    return out
