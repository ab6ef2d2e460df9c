"""Benchmark: sentiment + theme assignment of many ~200-character comments on 2 cores.

Target (issue 6): 1 million comments in under 2 minutes with both cores, peak memory under
4 GiB. The measured path is :func:`cxroi.text.pipeline.analyse_comments` (one process pool,
redaction + sentences + VADER + themes per chunk, per-worker sentence cache). The
alternative a user would pick is the plain loop: VADER's ``polarity_scores`` per comment in
one process plus scikit-learn's ``NMF.transform`` on comment TF-IDF; it is timed on a sample
in the same run and extrapolated linearly (it is linear in the number of comments). CPU
seconds (parent + workers) are printed beside wall seconds because the machine may be shared.

Usage: ``python benchmarks/bench_text.py [--scale small|full]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time

import numpy as np


def comments(n: int, seed: int = 0) -> list[str]:
    """``n`` simulator-style comments of about 200 characters (three assembled comments)."""
    from cxroi.simulate.comments import THEME_NAMES, assemble

    rng = np.random.default_rng(seed)
    k = len(THEME_NAMES)

    def part() -> list[str]:
        t1 = rng.integers(0, k, n)
        t2 = np.where(rng.random(n) < 0.5, rng.integers(0, k, n), -1)
        return assemble(rng, t1, rng.random(n) < 0.5, t2, rng.random(n) < 0.5).to_pylist()

    return [f"{a} {b} {c}" for a, b, c in zip(part(), part(), part(), strict=True)]


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


class RssSampler(threading.Thread):
    """Peak of (this process + its child processes) resident memory, sampled every 0.1 s.

    ``ru_maxrss`` of children is no use here: on Linux a spawned worker inherits the
    high-water mark of the parent it was forked from before ``exec``.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.done.is_set():
            total = _rss_kib(me) + sum(_rss_kib(c) for c in _children(me))
            self.peak_kib = max(self.peak_kib, total)
            time.sleep(0.1)

    def peak_gib(self) -> float:
        return self.peak_kib / 2**20


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    args = parser.parse_args()
    n = 1_000_000 if args.scale == "full" else 50_000

    from cxroi.text.pipeline import analyse_comments
    from cxroi.text.theme_model import ThemeModel

    t0 = time.perf_counter()
    texts = comments(n)
    print(f"comments: {n}")
    print(f"mean_chars: {np.mean([len(t) for t in texts[:10000]]):.0f}")
    print(f"generate_s: {time.perf_counter() - t0:.1f}")

    t0 = time.perf_counter()
    model = ThemeModel("auto", random_state=0).fit(texts[:20_000])
    print(f"theme_fit_s (20k comments): {time.perf_counter() - t0:.1f}")
    print(f"themes: {model.n_themes_}")

    sampler = RssSampler()
    sampler.start()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    out = analyse_comments(texts, model, n_jobs=2)
    total = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    assert len(out.sentiment) == n and out.themes.confidence.shape[0] == n
    print(f"analyse_wall_s (sentiment + themes, 2 workers): {total:.1f}")
    print(f"analyse_cpu_s (parent + workers): {cpu:.1f}")
    print(f"comments_per_s (wall): {n / total:,.0f}")
    print(f"comments_per_cpu_s: {n / cpu:,.0f}")
    sampler.done.set()
    sampler.join()
    peak = sampler.peak_gib()
    print(f"peak_rss_gib (parent + 2 workers, sampled): {peak:.2f}")

    # the alternative: plain VADER loop + sklearn NMF.transform on comment TF-IDF, 1 process
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sample = texts[:20_000]
    vec = TfidfVectorizer(stop_words="english", min_df=2)
    nmf = NMF(model.n_themes_, init="nndsvda", max_iter=200, random_state=0)
    nmf.fit(vec.fit_transform(sample))
    analyzer = SentimentIntensityAnalyzer()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    plain = np.array([analyzer.polarity_scores(t)["compound"] for t in sample])
    nmf.transform(vec.transform(sample))
    t_alt = (time.perf_counter() - t0) * n / len(sample)
    cpu_alt = (_cpu() - cpu0) * n / len(sample)
    print(f"alternative_wall_s (plain loop, 1 process, extrapolated from 20k): {t_alt:.1f}")
    print(f"alternative_cpu_s (extrapolated): {cpu_alt:.1f}")
    print(f"speedup_vs_alternative (wall): {t_alt / total:.1f}x")
    print(f"speedup_vs_alternative (cpu): {cpu_alt / cpu:.1f}x")
    fast = out.sentiment[: len(sample)]
    same = np.mean(abs(fast - plain) < 1e-4)
    sign = np.mean(np.sign(fast) == np.sign(plain))
    print(f"sentiment_equal_to_whole_text_vader (|diff| < 1e-4): {same:.3f}")
    print(f"sentiment_sign_agreement_with_whole_text_vader: {sign:.3f}")
    print(f"target_met (< 120 s wall, < 4 GiB): {total < 120 and peak < 4}")


if __name__ == "__main__":
    main()
