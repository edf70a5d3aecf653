"""Everything the bots say, in one place, so wording stays short, friendly and consistent."""
from __future__ import annotations

from collections.abc import Sequence

MB = 1024 * 1024


class Step:
    """Where a user is in the main flow; used to turn a wrong input into a hint for that step."""

    CONTENT = "content"
    STYLE = "style"


def help_text(backbone_labels: Sequence[str], upscaling: bool) -> str:
    lines = ["🎨 I repaint your photo in the style of a painting.",
             "Send me a photo, then a painting whose style you like (or pick one of mine).",
             "You get a quick version in seconds; paint it fully for the finest result (a few minutes).",
             "⚡ styles are ready in seconds too (🖼 Preview all shows them all)."]
    if len(backbone_labels) > 1:
        extra = " and upscale results ×4" if upscaling else ""
        lines.append(f"I paint with {' or '.join(backbone_labels)}, can compare them side by side{extra}.")
    lines.append("/settings: strength, size, colours · /cancel: stop at any time")
    return "\n".join(lines)


HELP_STEP = {
    Step.CONTENT: "",
    Step.STYLE: "\n\nRight now I'm waiting for the style picture.",
}

ASK_STYLE = ("Got your photo 👍 Now send a painting whose style you like, or pick one of mine "
             "(⚡ ones take seconds):")
ASK_STYLE_AGAIN = "Same photo, new style: send a painting, or pick one of mine (⚡ ones take seconds):"
PREVIEW_ALL = "🖼 Preview all"
PREVIEW_CHOSEN = "🖼 Your photo in every ⚡ style, coming up…"
PREVIEWED = "Like one? Pick it for your photo at full size, or send a painting of your own:"
STYLE_CHOSEN = "Style: {title}"
COMPARE_BOTH = "⚖️ Compare both"

HINTS = {
    Step.CONTENT: "Send me a photo to repaint 📷 (or /help).",
    Step.STYLE: "Now I need the style: send a painting (photo or image file), or pick one of the styles above.",
}
WRONG_KIND = {
    "text": "",
    "picture": "",
    "command": "I don't know that command. ",
    "sticker": "Stickers can't be repainted. ",
    "video": "I can only paint still pictures, not videos. ",
    "document": "That file isn't a picture I can read (JPEG, PNG, WebP, BMP, TIFF or GIF). ",
    "other": "I can't use that. ",
}


def wrong_input(kind: str, step: str) -> str:
    return WRONG_KIND.get(kind, WRONG_KIND["other"]) + HINTS[step]


def too_big(size: int | None, limit: int) -> str:
    what = f"That file is {size / MB:.0f} MB" if size else "That file is too big"
    return (f"{what}; I can only download files up to {limit / MB:.0f} MB. "
            "Send it as a photo, or a smaller file.")


def refused_image(reason: str) -> str:
    return f"I can't use this picture: {reason} Please send another one."


DOWNLOAD_FAILED = "I couldn't download your picture from Telegram. Please send it again."
HANDLER_FAILED = "😵 Sorry, something went wrong on my side. Please try again."

CANCELLED_DRAFT = "Okay, I've forgotten that photo. Send a new one whenever you like."
CANCELLED_QUEUED = "Removed your request from the queue."
CANCELLING_RUNNING = "Stopping your job…"
NOTHING_TO_CANCEL = "Nothing to cancel. Send me a photo to start."
CANCELLED = "🛑 Cancelled."
NOT_FINISHED = "❌ Not finished."
RESUMED = "🔧 I restarted while painting your picture. No need to send anything: it's on its way."
RESUMED_FAILED = ("😵 Sorry, I restarted twice while working on your picture and had to give up. "
                  "Please send it again.")
WORKER_RETRYING = "😵 My painter crashed while working on your picture. Trying once more, no need to send anything…"
WORKER_FAILED = "😵 Sorry, my painter crashed twice on your picture, so I gave up. Please try another picture or size."
BUSY = "😓 I'm very busy right now and can't take your request. Please try again in a minute."
QUEUE_FULL = "😓 I'm very busy: the queue is full. Please try again in a few minutes."
JOB_FAILED = "😵 Sorry, something went wrong while working on your picture. It has been logged; please try again."
EXPIRED_BUTTON = "This button has expired. Send a new photo to start again."
FORGOTTEN_RESULT = "I no longer have that picture (I keep results for {days} days). Please send your photo again."


def forgotten_result(days: float) -> str:
    return FORGOTTEN_RESULT.format(days=f"{days:g}")


def rate_limited(per_hour: int, seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return (f"🐢 That's {per_hour} pictures in the last hour, the most I paint for one person. "
            f"Please try again in {minutes} min.")


def stats(uptime_s: float, lanes: dict[str, tuple[int, int]], counts: dict[str, int],
          times: dict[str, tuple[float, float, int]], restarts: int, chat_mb: float,
          workers: list[tuple[str, float | None]]) -> str:
    """The admins' /stats: `times` maps a kind of job to (p50 s, p95 s, count) over the last 24 h."""
    hours, rest = divmod(int(uptime_s), 3600)
    lines = [f"📊 Up {hours} h {rest // 60} min",
             "Lanes (waiting / running): " + ", ".join(f"{lane} {w} / {r}" for lane, (w, r) in lanes.items()),
             "Last 24 h: " + ", ".join(f"{n} {what}" for what, n in counts.items())]
    lines += [f"• {kind}: p50 {p50:.1f} s, p95 {p95:.1f} s ({n} jobs)" for kind, (p50, p95, n) in times.items()]
    lines.append(f"Worker restarts: {restarts}")
    memory = ", ".join(f"{name} {mb:.0f} MB" if mb is not None else f"{name} (down)" for name, mb in workers)
    lines.append(f"Memory: chat {chat_mb:.0f} MB" + (f"; workers: {memory}" if memory else ""))
    return "\n".join(lines)


def already_queued(position: int) -> str:
    where = "in progress" if position == 0 else f"waiting at #{position} in the queue"
    return f"You already have a job {where}. Wait for it to finish, or /cancel it."


def queued(position: int) -> str:
    if position == 0:
        return "⏳ Starting…"
    return f"⏳ You're #{position} in the queue. I'll start as soon as a painter is free."


def _stage(stage: int, stages: int) -> str:
    return f" ({stage}/{stages})" if stages > 1 else ""


def painting(label: str, stage: int, stages: int) -> str:
    return f"🎨 Painting with {label}{_stage(stage, stages)}…"


def painting_instant(title: str, stage: int, stages: int) -> str:
    return f"{title}{_stage(stage, stages)}…"


QUICK_STAGE = "⚡ A quick version…"


def quick_caption(seconds: float, painting_follows: bool) -> str:
    then = ("The full painting is on its way (a few minutes)." if painting_follows
            else "Paint it fully for the finest result (a few minutes):")
    return f"⚡ Quick version — {seconds:.1f} s. {then}"


UPSCALING = "🔍 Upscaling ×4…"


def done(seconds: float) -> str:
    return f"✅ Done in {seconds:.1f} s."


def result_caption(label: str, seconds: float) -> str:
    return f"{label} — {seconds:.1f} s"


COMPARED = "Which one do you like? Upscale it, or try another style."


def upscaled(width: int, height: int) -> str:
    return f"Upscaled ×4: {width}×{height} px, as a file so Telegram keeps every pixel."


# ---- buttons ---------------------------------------------------------------------------------------
NEW_STYLE = "🎨 New style"
UPSCALE = "🔍 Upscale ×4"


PAINT_FULLY = "🎨 Paint fully"


def paint_with(label: str) -> str:
    return f"🎨 Paint with {label}"


def try_backbone(label: str) -> str:
    return f"🔁 Try {label}"


def upscale_one(label: str) -> str:
    return f"🔍 Upscale {label} ×4"


# ---- /settings -------------------------------------------------------------------------------------
STRENGTH_LABELS = {"soft": "Soft", "normal": "Normal", "strong": "Strong"}
COLOURS = {False: "Painting's colours", True: "Photo's colours"}
ASK_EACH_TIME = "Ask me"


def settings_text(strength: str, size: int, keep_colors: bool, full_with: str | None) -> str:
    """The /settings message; `full_with`: the network that paints fully right after the quick version
    ("" on a bot with one network), None to ask each time."""
    after = "ask me" if full_with is None else f"paint fully{f' with {full_with}' if full_with else ''}"
    lines = ["⚙️ Your settings, used for your next pictures. Tap to change:",
             f"• Style strength: {STRENGTH_LABELS[strength].lower()}", f"• Size: {size} px",
             f"• Colours: {'from your photo' if keep_colors else 'from the painting'}",
             f"• After the quick version: {after}"]
    return "\n".join(lines)


COMMANDS = {
    "start": "what I do",
    "help": "how to use me",
    "settings": "strength, size, colours",
    "cancel": "stop the current request",
}
