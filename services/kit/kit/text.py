"""Text search that works for Chinese written either way.

Names and titles are stored exactly as given (simplified or traditional). Beside each a service
keeps a search key — converted to simplified characters with OpenCC and case-folded — and
queries are normalised the same way, so 婦聯 finds 妇联 and "YWCA" finds "ywca".
"""

from __future__ import annotations

from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def search_key(text: str) -> str:
    return _to_simplified().convert(" ".join(text.split())).casefold()


def search_keys(texts: list[str]) -> list[str]:
    """``search_key`` of many texts with one conversion (an import converts thousands of names:
    OpenCC's per-call overhead dominates short strings)."""
    if not texts:
        return []
    joined = "\n".join(" ".join(text.split()) for text in texts)
    keys = _to_simplified().convert(joined).casefold().split("\n")
    if len(keys) != len(texts):  # defensive: fall back to one conversion per text
        return [search_key(text) for text in texts]
    return keys
