#!/usr/bin/env python3
"""Reference embedding speed on CPU (PyTorch and ONNX Runtime), measured like `kefu bench embed`.

It times PyTorch through sentence-transformers and ONNX Runtime on exactly the inputs and in
exactly the way `kefu bench embed` times kefu's candle embedder, so the three read side by side.

Setup (once; PyPI only, about 6 GiB because PyPI's Linux torch wheel pulls the CUDA libraries):

    python3 -m venv /tmp/refbench
    /tmp/refbench/bin/pip install torch sentence-transformers transformers onnxruntime onnx \\
        onnxscript tokenizers safetensors numpy

Run (from the repository root; no network is needed, models load from local folders):

    /tmp/refbench/bin/python tests/reference/speed.py \\
        --model models/multilingual-e5-small-zh-en \\
        --model ../shared/models/all-MiniLM-L6-v2 \\
        --json /tmp/refbench/speed.json

and compare with, for each model (same --runs / --texts defaults):

    RAYON_NUM_THREADS=2 target/release/kefu --model DIR bench embed --runs 200 --texts 512

Run it on an otherwise idle machine: on 2 cores with 2 threads, a build on the other core slows
torch several-fold (the script prints the load average and warns above 0.5).

What is measured, exactly as src/ml/bench.rs does it:

* single query: SAMPLE_QUERY with the model's query prefix, embedded alone (batch of one,
  tokenisation included), one untimed warm-up, then --runs timed calls; median and min in ms.
* throughput: --texts help-desk texts from kefu's `sample_texts` (its LCG ported exactly below),
  with the passage prefix, embedded once per batch size 1, 32 and 128. As in kefu's
  `embed_uncached`, each timed run tokenises all texts, sorts them (stably) by token count, and
  embeds consecutive chunks of `batch_size`, each padded to its longest text; texts/s.

Engines:

* torch: a SentenceTransformer built from modules (Transformer -> mean Pooling -> Normalize) over
  the model folder, weights widened from f16 to float32, torch.set_num_threads(--threads); each
  chunk goes through `SentenceTransformer.encode(chunk, batch_size=len(chunk))` so the batches
  are kefu's (encode would otherwise re-sort by character count).
* onnxruntime: the same BertModel exported once with torch.onnx.export (TorchScript exporter,
  opset 17, dynamic batch and sequence axes) to --onnx-dir/<model>.onnx, run by the CPU
  provider with intra_op_num_threads=--threads and ORT_ENABLE_ALL; tokenised by the `tokenizers`
  package from the folder's tokenizer.json; mean pooling and L2 normalisation in numpy.

Both engines tokenise like kefu: the tokenizer.json's own padding is dropped (MiniLM's file
carries Fixed(128) padding and truncation at 128, which would pad every query to 128 tokens);
batches are padded to their longest text and inputs truncated at max_tokens (256, or the
folder's kefu-model.toml). Prefixes come from kefu-model.toml when the folder has one, otherwise
from kefu's rule: "query: " / "passage: " when a part of the folder name is "e5", none otherwise.

Before timing, a correctness check per model: cosine between torch and ONNX Runtime vectors of
a few texts (must be >= 0.999), and, where tests/fixtures/embedding_reference.json has the model,
cosine between each engine and those parity-test vectors. The exit status is 1 if a check fails.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import tomllib
import warnings

# Quieter, and no hub look-ups: everything loads from local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

# The same constants as src/ml/bench.rs.
SAMPLE_QUERY = "Where is my parcel? It should have arrived last Monday."
BATCH_SIZES = (1, 32, 128)
DEFAULT_MAX_TOKENS = 256
SETTINGS_FILE = "kefu-model.toml"
CLAUSES = [
    "My order still hasn't arrived",
    "I was charged twice for the same subscription",
    "How do I reset my password",
    "The tracking number you sent does not work",
    "Can I change the delivery address after paying",
    "The app crashes every time I open the settings page",
    "I would like a refund for the damaged item",
    "Is there a discount for annual plans",
    "我的订单还没到",
    "为什么我的账户被锁定了",
    "请问可以开发票吗",
    "退款什么时候到账",
    "我的 order 还没到，能帮我查一下吗",
    "快递显示已签收但我没有收到",
    "please help, it has been two weeks",
    "thanks in advance for your help",
]
FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "fixtures", "embedding_reference.json"
)
MIN_COSINE = 0.999


def sample_texts(count):
    """kefu's `sample_texts`: a fixed LCG picks 1-4 clauses per text, joined by ". "."""
    state = 0x2545F4914F6CDD1D
    mask = (1 << 64) - 1

    def next_value():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        return state >> 33

    texts = []
    for _ in range(count):
        clauses = 1 + next_value() % 4
        texts.append(". ".join(CLAUSES[next_value() % len(CLAUSES)] for _ in range(clauses)))
    return texts


class ModelInfo:
    """A model folder and how kefu feeds it: prefixes, token budget, tokenizer."""

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        self.model_id = os.path.basename(os.path.normpath(self.folder))
        settings_path = os.path.join(self.folder, SETTINGS_FILE)
        if os.path.isfile(settings_path):
            with open(settings_path, "rb") as file:
                settings = tomllib.load(file)
            self.query_prefix = settings.get("query_prefix", "")
            self.passage_prefix = settings.get("passage_prefix", "")
            self.max_tokens = int(settings.get("max_tokens", DEFAULT_MAX_TOKENS))
        else:
            parts = self.model_id.replace("_", "-").replace(".", "-").split("-")
            is_e5 = any(part.lower() == "e5" for part in parts)
            self.query_prefix = "query: " if is_e5 else ""
            self.passage_prefix = "passage: " if is_e5 else ""
            self.max_tokens = DEFAULT_MAX_TOKENS
        self.tokenizer = tokenizers.Tokenizer.from_file(os.path.join(self.folder, "tokenizer.json"))
        self.file_padding = self.tokenizer.padding
        # Any in-vocabulary token pads (the attention mask hides it); the file's if it names one.
        vocab = self.tokenizer.get_vocab()
        candidates = [self.file_padding["pad_token"]] if self.file_padding else []
        candidates += ["<pad>", "[PAD]"]
        self.pad_token = next((token for token in candidates if token in vocab), None)
        if self.pad_token is None:
            raise SystemExit("%s: tokenizer.json has no padding token" % self.model_id)
        self.pad_id = vocab[self.pad_token]
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)

    def token_counts(self, texts):
        return [len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts)]


def length_sorted_chunks(info, texts, batch_size):
    """kefu's batching: stable sort by token count, then consecutive chunks."""
    counts = info.token_counts(texts)
    order = sorted(range(len(texts)), key=lambda index: counts[index])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


class TorchEngine:
    name = "torch"

    def __init__(self, info, threads):
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
        from transformers import PreTrainedTokenizerFast

        torch.set_num_threads(threads)
        self.info = info
        transformer = Transformer(
            info.folder,
            model_kwargs={"dtype": torch.float32},
            max_seq_length=info.max_tokens,
        )
        # transformers rebuilds some tokenizers (XLM-R among them) from its own recipe instead of
        # running tokenizer.json as written: its XLM-R keeps a trailing "▁" token out and skips
        # the file's "collapse runs of spaces" normaliser. kefu runs the file as written, so hand
        # sentence-transformers the same `tokenizers` pipeline the ORT engine uses.
        transformer.processor = PreTrainedTokenizerFast(
            # A copy: the wrapper switches padding on in the object it is given.
            tokenizer_object=tokenizers.Tokenizer.from_str(info.tokenizer.to_str()),
            model_max_length=info.max_tokens,
            pad_token=info.pad_token,
        )
        dimension = transformer.get_embedding_dimension()
        self.model = SentenceTransformer(
            modules=[transformer, Pooling(dimension, "mean"), Normalize()], device="cpu"
        ).eval()
        # The wrapper must pad per batch (not to the file's Fixed(128)), truncate at max_tokens
        # and give the same ids as the file: check once.
        probe = ["a", "a b c  ", "x " * (2 * info.max_tokens)]
        features = transformer.preprocess(probe[:2])
        if features["input_ids"].shape[1] != max(info.token_counts(probe[:2])):
            raise SystemExit("%s: the torch tokenizer does not pad to the longest text" % info.model_id)
        features = transformer.preprocess(probe)
        for row, encoding in enumerate(info.tokenizer.encode_batch(probe)):
            got = features["input_ids"][row][features["attention_mask"][row].bool()].tolist()
            if got != encoding.ids:
                raise SystemExit("%s: the torch tokenizer's ids differ from tokenizer.json's" % info.model_id)

    def embed(self, texts):
        return np.asarray(
            self.model.encode(
                texts, batch_size=max(1, len(texts)), show_progress_bar=False, convert_to_numpy=True
            )
        )


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, info, threads, onnx_dir, reexport):
        import onnxruntime

        self.info = info
        self.path = os.path.join(onnx_dir, info.model_id + ".onnx")
        weights = os.path.join(info.folder, "model.safetensors")
        if (
            reexport
            or not os.path.isfile(self.path)
            or os.path.getmtime(self.path) < os.path.getmtime(weights)
        ):
            export_onnx(info, self.path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(
            self.path, options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {node.name for node in self.session.get_inputs()}

    def embed(self, texts):
        encodings = self.info.tokenizer.encode_batch(texts)
        longest = max(len(encoding.ids) for encoding in encodings)
        ids = np.full((len(encodings), longest), self.info.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {name: value for name, value in feeds.items() if name in self.input_names}
        hidden = self.session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(hidden.dtype)
        mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


def export_onnx(info, path):
    """BertModel (float32, no pooler) -> ONNX with dynamic batch and sequence axes."""
    from transformers import BertModel

    class LastHiddenState(torch.nn.Module):
        # Keyword call: BertModel.forward's positional order differs between versions.
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = BertModel.from_pretrained(info.folder, dtype=torch.float32, add_pooling_layer=False)
    # eval() on the wrapper itself: export restores the wrapper's mode afterwards, and a wrapper
    # left in training mode would switch dropout on inside the model.
    wrapper = LastHiddenState(model).eval()
    # Trace with a padded row: with an all-ones mask transformers may skip the mask entirely,
    # and the tracer would bake that branch in.
    encodings = info.tokenizer.encode_batch(["hello world, how are you", "hi"])
    longest = max(len(encoding.ids) for encoding in encodings)
    ids = torch.full((2, longest), info.pad_id, dtype=torch.long)
    mask = torch.zeros((2, longest), dtype=torch.long)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = torch.tensor(encoding.ids)
        mask[row, : len(encoding.ids)] = 1
    names = ["input_ids", "attention_mask", "token_type_ids"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (ids, mask, torch.zeros_like(ids)),
            path,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in names + ["last_hidden_state"]},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    print(
        "exported %s to %s in %.1f s" % (info.model_id, path, time.perf_counter() - started),
        file=sys.stderr,
    )


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def benchmark(engine, runs, texts, batch_sizes):
    """src/ml/bench.rs's `benchmark`, for one engine."""
    info = engine.info
    query = info.query_prefix + SAMPLE_QUERY
    engine.embed([query])
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        engine.embed([query])
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    passages = [info.passage_prefix + text for text in texts]
    throughput = []
    for batch_size in batch_sizes:
        started = time.perf_counter()
        for chunk in length_sorted_chunks(info, passages, batch_size):
            engine.embed([passages[index] for index in chunk])
        elapsed = time.perf_counter() - started
        throughput.append(
            {
                "batch_size": batch_size,
                "texts": len(passages),
                "seconds": elapsed,
                "texts_per_second": len(passages) / max(elapsed, 1e-12),
            }
        )
    counts = info.token_counts(passages)
    return {
        "model": info.model_id,
        "engine": engine.name,
        "query_tokens": info.token_counts([query])[0],
        "query_runs": runs,
        "query_median_ms": (latencies[len(latencies) // 2] if latencies else 0.0) * 1e3,
        "query_min_ms": (latencies[0] if latencies else 0.0) * 1e3,
        "throughput": throughput,
        "mean_passage_tokens": sum(counts) / max(1, len(counts)),
        "peak_rss_mib_so_far": peak_rss_mib(),
    }


def cosines(left, right):
    left = np.asarray(left, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    dots = (left * right).sum(axis=1)
    norms = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    return dots / np.maximum(norms, 1e-12)


def check(info, engines):
    """Cosines torch vs ORT, and each engine vs the parity fixture where it has this model."""
    results = []
    texts = [info.query_prefix + SAMPLE_QUERY] + [
        info.passage_prefix + text for text in sample_texts(8)
    ]
    # Each text alone: the vectors must not depend on padding either way.
    vectors = {engine.name: np.vstack([engine.embed([text]) for text in texts]) for engine in engines}
    if "torch" in vectors and "onnxruntime" in vectors:
        values = cosines(vectors["torch"], vectors["onnxruntime"])
        padded = cosines(engines[0].embed(texts), engines[1].embed(texts))
        results.append(
            {"model": info.model_id, "what": "torch vs onnxruntime", "texts": len(texts),
             "min_cosine": float(min(values.min(), padded.min()))}
        )
    if os.path.isfile(FIXTURE):
        with open(FIXTURE, encoding="utf-8") as file:
            fixture = json.load(file)
        for entry in fixture["entries"]:
            if entry["model"] != info.model_id:
                continue
            inputs = [entry["prefix"] + sentence for sentence in entry["sentences"]]
            for engine in engines:
                got = np.vstack([engine.embed([text]) for text in inputs])
                results.append(
                    {"model": info.model_id,
                     "what": "%s vs fixture (%s)" % (engine.name, entry["kind"]),
                     "texts": len(inputs),
                     "min_cosine": float(cosines(got, entry["vectors"]).min())}
                )
    for result in results:
        result["ok"] = result["min_cosine"] >= MIN_COSINE
        print(
            "  check %-32s min cosine %.7f over %2d texts  %s"
            % (result["what"], result["min_cosine"], result["texts"], "ok" if result["ok"] else "FAIL")
        )
    return results


def print_report(report):
    print("  %s" % report["engine"])
    print(
        "    single query (%d tokens): median %.2f ms, min %.2f ms over %d runs"
        % (report["query_tokens"], report["query_median_ms"], report["query_min_ms"], report["query_runs"])
    )
    for run in report["throughput"]:
        print(
            "    batch %3d: %7.1f texts/s (%d texts, mean %.1f tokens, %.2f s)"
            % (run["batch_size"], run["texts_per_second"], run["texts"],
               report["mean_passage_tokens"], run["seconds"])
        )
    print("    process peak RSS so far %.0f MiB" % report["peak_rss_mib_so_far"])


def print_summary(reports, batch_sizes):
    header = "%-30s %-12s %9s %9s" % ("model", "engine", "q med ms", "q min ms")
    header += "".join(" %9s" % ("b%d t/s" % size) for size in batch_sizes)
    print("\nsummary (texts/s per batch size)")
    print(header)
    print("-" * len(header))
    for report in reports:
        line = "%-30s %-12s %9.2f %9.2f" % (
            report["model"][:30], report["engine"], report["query_median_ms"], report["query_min_ms"]
        )
        line += "".join(" %9.1f" % run["texts_per_second"] for run in report["throughput"])
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="DIR",
                        help="a model folder (config.json, model.safetensors, tokenizer.json); repeatable")
    parser.add_argument("--engine", action="append", choices=["torch", "onnxruntime"],
                        help="repeatable; default both")
    parser.add_argument("--runs", type=int, default=200, help="timed single-query runs (default 200)")
    parser.add_argument("--texts", type=int, default=512, help="texts per batch size (default 512)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    parser.add_argument("--onnx-dir", default="/tmp/refbench/onnx", help="where exported models go")
    parser.add_argument("--reexport", action="store_true", help="export to ONNX even if a file exists")
    parser.add_argument("--skip-check", action="store_true", help="skip the correctness check")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    engine_names = args.engine or ["torch", "onnxruntime"]
    engine_names = [name for name in ("torch", "onnxruntime") if name in engine_names]
    texts = sample_texts(args.texts)

    import onnxruntime
    import sentence_transformers

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
    }
    print("reference embedding benchmark: %s" % ", ".join("%s %s" % item for item in versions.items()))
    load = os.getloadavg()[0]
    print("threads %d, cpus %s, runs %d, texts %d, batch sizes %s, load average %.2f"
          % (args.threads, os.cpu_count(), args.runs, args.texts, list(BATCH_SIZES), load))
    if load > 0.5:
        # With every core asked for, one busy core slows torch's thread pool down several-fold.
        print("warning: the machine is busy (1-minute load %.2f); timings will be low" % load)
    reports, checks = [], []
    for folder in args.model:
        info = ModelInfo(folder)
        print("\nmodel %s (query prefix %r, passage prefix %r, max %d tokens%s)" % (
            info.model_id, info.query_prefix, info.passage_prefix, info.max_tokens,
            "; tokenizer.json's padding to %s tokens dropped" % info.file_padding.get("length")
            if info.file_padding else ""))
        engines = []
        for name in engine_names:
            if name == "torch":
                engines.append(TorchEngine(info, args.threads))
            else:
                engines.append(OrtEngine(info, args.threads, args.onnx_dir, args.reexport))
        if not args.skip_check:
            checks.extend(check(info, engines))
        for engine in engines:
            report = benchmark(engine, args.runs, texts, BATCH_SIZES)
            print_report(report)
            reports.append(report)
    print_summary(reports, BATCH_SIZES)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(
                {"versions": versions, "threads": args.threads, "cpus": os.cpu_count(),
                 "load_average_at_start": load,
                 "runs": args.runs, "texts": args.texts, "batch_sizes": list(BATCH_SIZES),
                 "sample_query": SAMPLE_QUERY, "results": reports, "checks": checks},
                file, indent=2,
            )
            file.write("\n")
        print("wrote %s" % args.json, file=sys.stderr)
    failed = [check_result for check_result in checks if not check_result["ok"]]
    if failed:
        print("%d correctness check(s) FAILED" % len(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
