"""SVG pictures of the clearance figures, drawn server-side with matplotlib (no JavaScript, no network)."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt
from matplotlib.figure import Figure

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
LODGED = "#2563eb"
RELEASED = "#059669"
CHANNEL_COLOURS = {"green": "#16a34a", "yellow": "#ca8a04", "red": "#dc2626", "none": "#9ca3af"}
_LOCK = threading.Lock()  # matplotlib's state is not thread-safe; requests run in a thread pool


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_alpha(0)
    return fig


def _style(ax: plt.Axes) -> None:
    ax.set_facecolor("none")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)
    ax.tick_params(colors=MUTED, labelsize=9)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _svg(fig: Figure, title: str) -> bytes:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Title": title, "Date": None})
    text = buffer.getvalue()
    # An accessible name for the picture when it is inlined or opened on its own.
    text = text.replace("<svg ", f'<svg role="img" aria-label="{_attr(title)}" ', 1)
    return text.encode()


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _pad(points: tuple[tuple[datetime, int, int], ...], bucket: str) -> list[tuple[datetime, int, int]]:
    """At least a day of hours (or two weeks of days), so one busy bucket does not fill the whole picture."""
    wanted = 24 if bucket == "hour" else 14
    padded = list(points)
    if not padded:
        return padded
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    while len(padded) < wanted:
        padded.insert(0, (padded[0][0] - step, 0, 0))
    return padded


@lru_cache(maxsize=64)
def flow_chart(points: tuple[tuple[datetime, int, int], ...], bucket: str) -> bytes:
    """Lodged and released declarations per hour or per day, as grouped bars."""
    points = _pad(points, bucket)
    with _LOCK:
        fig = _figure(7.2, 2.6)
        ax = fig.add_subplot()
        _style(ax)
        xs = list(range(len(points)))
        width = 0.42
        ax.bar([x - width / 2 for x in xs], [p[1] for p in points], width, color=LODGED, label="Lodged")
        ax.bar([x + width / 2 for x in xs], [p[2] for p in points], width, color=RELEASED, label="Released")
        step = max(1, len(points) // 6)
        fmt = "%H:00" if bucket == "hour" else "%d %b"
        labels = [p[0].strftime("%d %b %H:00" if bucket == "hour" and i == 0 else fmt) for i, p in enumerate(points)]
        ax.set_xticks(xs[::step], labels[::step])
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(f"declarations per {bucket}", color=MUTED, fontsize=9)
        ax.legend(frameon=False, fontsize=9, loc="lower left", bbox_to_anchor=(0, 1), ncols=2)
        return _svg(fig, f"Declarations lodged and released per {bucket}")


@lru_cache(maxsize=64)
def bars_chart(items: tuple[tuple[str, int, str], ...], title: str) -> bytes:
    """Horizontal bars: (label, value, colour)."""
    with _LOCK:
        fig = _figure(3.6, 0.36 * max(len(items), 3) + 0.4)
        ax = fig.add_subplot()
        _style(ax)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", color=GRID, linewidth=0.8)
        labels = [i[0] for i in items][::-1]
        values = [i[1] for i in items][::-1]
        bars = ax.barh(labels, values, color=[i[2] for i in items][::-1], height=0.62)
        ax.bar_label(bars, padding=3, fontsize=10, color=INK)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.margins(x=0.12)
        ax.tick_params(axis="y", colors=INK, length=0, labelsize=10)
        return _svg(fig, title)


@lru_cache(maxsize=64)
def release_time_chart(hours: tuple[float, ...]) -> bytes:
    """Distribution of the time from acceptance to release, in hours."""
    with _LOCK:
        fig = _figure(4.6, 2.4)
        ax = fig.add_subplot()
        _style(ax)
        if hours:
            ax.hist(hours, bins=min(20, max(5, len(hours) // 3)), color=RELEASED, edgecolor="white")
        ax.set_xlabel("hours from acceptance to release", color=MUTED, fontsize=9)
        ax.yaxis.get_major_locator().set_params(integer=True)
        return _svg(fig, "Time from acceptance to release")
