"""Everything the bots say, in one place, so wording stays short, friendly and consistent.

Written in English and said in the current user's language (`bots.common.i18n`): the functions translate when
called, and the constants (`texts.ASK_STYLE`) when read, through this module's `__getattr__`, so each
reading speaks the language of whoever is being answered. The Russian is in bots/locales/ru.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from bots.common.i18n import N_, ngettext
from bots.common.i18n import gettext as _

MB = 1024 * 1024


class Step:
    """Where a user is in the main flow; used to turn a wrong input into a hint for that step."""

    CONTENT = "content"
    STYLE = "style"


_CONSTANTS = {
    "ASK_STYLE": N_("Got your photo 👍 Now send a painting whose style you like, or pick one of mine "
                    "(⚡ ones take seconds):"),
    "ASK_CLIP_STYLE": N_("Got your clip 🎬 Pick a ⚡ style, or send a painting whose style you like: I paint every "
                         "frame the quick way (the full painting takes minutes a picture, so it is for photos)."),
    "CLIP_PREVIEW": N_("For a clip, pick one style: a preview of them all is for photos."),
    "CLIP_STAGE": N_("🎬 Painting the frames…"),
    "QUICK_TITLE": N_("⚡ Quick"),
    "ASK_STYLE_AGAIN": N_("Same photo, new style: send a painting, or pick one of mine (⚡ ones take seconds):"),
    "PREVIEW_ALL": N_("🖼 Preview all"),
    "PREVIEW_CHOSEN": N_("🖼 Your photo in every ⚡ style, coming up…"),
    "PREVIEWED": N_("Like one? Pick it for your photo at full size, or send a painting of your own:"),
    "STYLE_CHOSEN": N_("Style: {title}"),
    "COMPARE_BOTH": N_("⚖️ Compare both"),
    "DOWNLOAD_FAILED": N_("I couldn't download your picture from Telegram. Please send it again."),
    "HANDLER_FAILED": N_("😵 Sorry, something went wrong on my side. Please try again."),
    "CANCELLED_DRAFT": N_("Okay, I've forgotten that photo. Send a new one whenever you like."),
    "CANCELLED_QUEUED": N_("Removed your request from the queue."),
    "CANCELLING_RUNNING": N_("Stopping your job…"),
    "NOTHING_TO_CANCEL": N_("Nothing to cancel. Send me a photo to start."),
    "CANCELLED": N_("🛑 Cancelled."),
    "NOT_FINISHED": N_("❌ Not finished."),
    "RESUMED": N_("🔧 I restarted while painting your picture. No need to send anything: it's on its way."),
    "RESUMED_FAILED": N_("😵 Sorry, I restarted twice while working on your picture and had to give up. "
                         "Please send it again."),
    "WORKER_RETRYING": N_("😵 My painter crashed while working on your picture. Trying once more, no need to "
                          "send anything…"),
    "WORKER_FAILED": N_("😵 Sorry, my painter crashed twice on your picture, so I gave up. Please try another "
                        "picture or size."),
    "WORKER_STUCK_RETRYING": N_("⚠️ My painter got stuck on your picture, so I stopped it. Trying once more on "
                                "a fresh one, no need to send anything…"),
    "WORKER_STUCK_FAILED": N_("😵 Sorry, my painter got stuck twice on your picture, so I gave up. Please try "
                              "another picture or a smaller size."),
    "STORAGE_FULL": N_("😓 I can't take pictures right now: my storage is full. Nothing is wrong with yours; "
                       "please try again later."),
    "BUSY": N_("😓 I'm very busy right now and can't take your request. Please try again in a minute."),
    "JOB_FAILED": N_("😵 Sorry, something went wrong while working on your picture. It has been logged; "
                     "please try again."),
    "EXPIRED_BUTTON": N_("This button has expired. Send a new photo to start again."),
    "QUICK_STAGE": N_("⚡ A quick version…"),
    "UPSCALING": N_("🔍 Upscaling ×4…"),
    "COMPARED": N_("Which one do you like? Upscale it, or try another style."),
    "ALBUM_TAKEN": N_("📎 Two pictures: the first is your photo, the second the painting."),
    "ALBUM_PICK": N_("📎 I took the first picture as your photo. Which one is the painting? Tap its number, "
                     "or pick one of my styles:"),
    "ALBUM_CLIP_TAKEN": N_("📎 A clip and a picture: I'll paint the clip in the picture's style."),
    "ASK_LANGUAGE": N_("🌐 Which language shall I speak?"),
    "LANGUAGE_CHOSEN": N_("Okay, I'll speak English from now on."),
    # buttons
    "NEW_STYLE": N_("🎨 New style"),
    "UPSCALE": N_("🔍 Upscale ×4"),
    "FULL_QUALITY": N_("📄 Full quality"),
    "PHOTO_SIZE": N_("Photo's size"),
    "PAINT_FULLY": N_("🎨 Paint fully"),
    "ASK_EACH_TIME": N_("Ask me"),
}


def __getattr__(name: str) -> str:
    """A constant above, in the current language (PEP 562: read at each use, never at import)."""
    try:
        return _(_CONSTANTS[name])
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def help_text(backbone_labels: Sequence[str], upscaling: bool, in_group: bool = False) -> str:
    lines = [_("🎨 I repaint your photo in the style of a painting."),
             _("Send me a photo, then a painting whose style you like (or pick one of mine). "
               "Or both at once, as an album of two."),
             _("You get a quick version in seconds; paint it fully for the finest result (a few minutes)."),
             _("⚡ styles are ready in seconds too (🖼 Preview all shows them all)."),
             _("🎬 GIFs, short videos and video notes too: I paint every frame, in a ⚡ style or any painting's.")]
    if len(backbone_labels) > 1:
        networks = _("{one} or {other}").format(one=", ".join(backbone_labels[:-1]), other=backbone_labels[-1])
        lines.append(_("I paint with {networks} and can compare them side by side, and upscale results ×4.")
                     .format(networks=networks) if upscaling else
                     _("I paint with {networks} and can compare them side by side.").format(networks=networks))
    if in_group:
        lines.append(_("In a group, reply to one of my messages with your pictures."))
    lines.append(_("/settings: strength, size, brush, colours · /language · /cancel: stop at any time"))
    return "\n".join(lines)


def help_step(step: str) -> str:
    """What /help adds to say where the user is now."""
    return "\n\n" + _("Right now I'm waiting for the style picture.") if step == Step.STYLE else ""


def hint(step: str) -> str:
    """What to send next, at `step`."""
    if step == Step.STYLE:
        return _("Now I need the style: send a painting (photo or image file), or pick one of the styles above.")
    return _("Send me a photo to repaint 📷 (or /help).")


_WRONG_KIND = {
    "command": N_("I don't know that command."),
    "sticker": N_("Stickers can't be repainted."),
    "document": N_("That file isn't a picture I can read (JPEG, PNG, WebP, BMP, TIFF or GIF)."),
    "other": N_("I can't use that."),
}


def wrong_input(kind: str, step: str) -> str:
    """The answer to an input the bot cannot use at `step`: what was wrong (nothing for text or a picture),
    then what to send."""
    if kind in ("text", "picture"):
        return hint(step)
    return f"{_(_WRONG_KIND.get(kind, _WRONG_KIND['other']))} {hint(step)}"


def too_big(size: int | None, limit: int) -> str:
    if size:
        return _("That file is {size} MB; I can only download files up to {limit} MB. Send it as a photo, or a "
                 "smaller file.").format(size=f"{size / MB:.0f}", limit=f"{limit / MB:.0f}")
    return _("That file is too big; I can only download files up to {limit} MB. Send it as a photo, or a smaller "
             "file.").format(limit=f"{limit / MB:.0f}")


_REFUSALS = {
    "too_large": N_("it is too large; the most I take is {megapixels} megapixels."),
    "too_small": N_("it is too small ({width}×{height}); each side needs at least {min_side} px."),
    "too_narrow": N_("it is too narrow: at {width}×{height} a side would be under {min_side} px."),
    "not_an_image": N_("it isn't a picture I can read (JPEG, PNG, WebP, BMP, TIFF or GIF)."),
    "damaged": N_("the file is damaged or cut short."),
    "unreadable": N_("I couldn't read it."),
    "not_found": N_("the file is gone."),
    "style_gone": N_("that style no longer exists."),
}
_CLIP_REFUSALS = {
    "not_a_clip": N_("it isn't a video I can read (MP4, WebM, GIF or MOV with a picture in it)."),
    "still_clip": N_("it has a single picture: send it as a photo instead."),
    "clip_too_long": N_("it is {seconds} s long, and I paint clips of up to {limit} s."),
    "damaged": N_("the file is damaged or cut short."),
}


def refused_clip(reason: str, details: dict[str, object] | None = None) -> str:
    """Why a clip is refused (`transfer.clips.probe`'s reasons and details), and what to do."""
    why = _(_CLIP_REFUSALS.get(reason, _CLIP_REFUSALS["not_a_clip"])).format(**(details or {}))
    return _("I can't use this clip: {why} Please send another one.").format(why=why)


def clip_caption(title: str, seconds: float, frames: int) -> str:
    return ngettext("{title}: {frames} frame painted in {duration}.", "{title}: {frames} frames painted in "
                    "{duration}.", frames).format(title=title, frames=frames, duration=duration(seconds))


def refused_image(reason: str, details: dict[str, object] | None = None) -> str:
    """Why a picture is refused (an engine's `ImageError` reason and its details), and what to do."""
    why = _(_REFUSALS.get(reason, _REFUSALS["unreadable"])).format(**(details or {}))
    return _("I can't use this picture: {why} Please send another one.").format(why=why)


def _day_count(days: float) -> int:
    """The number `ngettext` gets for `days`: a fraction of a day takes the form of 2 in both languages
    ("0.5 days", "0,5 дня")."""
    return int(days) if days == int(days) else 2


def forgotten_result(days: float) -> str:
    return ngettext("I no longer have that picture (I keep results for {days} day). Please send your photo again.",
                    "I no longer have that picture (I keep results for {days} days). Please send your photo "
                    "again.", _day_count(days)).format(days=f"{days:g}")


def rate_limited(per_hour: int, seconds: float, cost: int = 1) -> str:
    """The hourly limit reached; `cost`: the pictures the refused request counts as (a clip: one a second)."""
    minutes = max(1, round(seconds / 60))
    said = ngettext("🐢 That's {count} picture in the last hour, the most I paint for one person. Please try "
                    "again in {minutes} min.",
                    "🐢 That's {count} pictures in the last hour, the most I paint for one person. Please try "
                    "again in {minutes} min.", per_hour).format(count=per_hour, minutes=minutes)
    if cost > 1:
        said += " " + ngettext("A clip counts as one picture a second: this one as {cost}.",
                               "A clip counts as one picture a second: this one as {cost}.", cost).format(cost=cost)
    return said


def stats(uptime_s: float, lanes: dict[str, tuple[int, int]], waits: dict[str, float], counts: dict[str, int],
          times: dict[str, tuple[float, float, int]], restarts: int, chat_mb: float,
          workers: list[tuple[str, float | None]]) -> str:
    """The admins' /stats: `waits` per lane the seconds a job queued now would wait, `counts` of delivered,
    failed and cancelled jobs, `times` maps a kind of job to (p50 s, p95 s, count) over the last 24 h."""
    hours, rest = divmod(int(uptime_s), 3600)
    outcomes = {"delivered": N_("{count} delivered"), "failed": N_("{count} failed"),
                "cancelled": N_("{count} cancelled")}
    lines = [_("📊 Up {hours} h {minutes} min").format(hours=hours, minutes=rest // 60),
             _("Lanes (waiting / running): ") + ", ".join(f"{lane} {w} / {r}" for lane, (w, r) in lanes.items()),
             _("Expected wait: ") + ", ".join(f"{lane} {duration(wait)}" for lane, wait in waits.items()),
             _("Last 24 h: ") + ", ".join(_(outcomes[what]).format(count=n) for what, n in counts.items())]
    lines += [ngettext("• {kind}: p50 {p50} s, p95 {p95} s ({count} job)",
                       "• {kind}: p50 {p50} s, p95 {p95} s ({count} jobs)", n)
              .format(kind=kind, p50=f"{p50:.1f}", p95=f"{p95:.1f}", count=n) for kind, (p50, p95, n) in times.items()]
    lines.append(_("Worker restarts: {count}").format(count=restarts))
    memory = ", ".join(f"{name} {mb:.0f} MB" if mb is not None else _("{name} (down)").format(name=name)
                       for name, mb in workers)
    lines.append(_("Memory: chat {mb} MB").format(mb=f"{chat_mb:.0f}")
                 + (_("; workers: {memory}").format(memory=memory) if memory else ""))
    return "\n".join(lines)


def already_queued(position: int) -> str:
    if position == 0:
        return _("You already have a job in progress. Wait for it to finish, or /cancel it.")
    return _("You already have a job waiting at #{position} in the queue. Wait for it to finish, or /cancel it."
             ).format(position=position)


def queued(position: int, wait: float | None = None) -> str:
    """A job's place (0: starting), and when it should start (`wait`, seconds) if known and not now (a
    free painter about to take it)."""
    if position == 0:
        return _("⏳ Starting…")
    if wait is None or wait < 0.5:
        return _("⏳ You're #{position} in the queue. I'll start as soon as a painter is free.").format(
            position=position)
    return _("⏳ You're #{position} in the queue, about {wait} to wait.").format(position=position,
                                                                               wait=duration(wait))


def queue_full(wait: float, retry: float) -> str:
    """A refusal by the lane's expected wait (seconds), saying when to come back (seconds)."""
    return _("😓 I'm very busy: a new picture would wait about {wait}. Please try again in {retry}.").format(
        wait=duration(wait), retry=duration(retry))


def duration(seconds: float) -> str:
    """A wait as people say it: "0 s" (none), "40 s" (up to the next 5 s), "3 min", "1 h 20 min" (to 5 min)."""
    if seconds <= 55:
        return _("{seconds} s").format(seconds=5 * math.ceil(seconds / 5) if seconds >= 0.5 else 0)
    if seconds < 3570:
        return _("{minutes} min").format(minutes=max(1, round(seconds / 60)))
    hours, minutes = divmod(5 * round(seconds / 300), 60)
    if not minutes:
        return _("{hours} h").format(hours=hours)
    return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)


def _stage(stage: int, stages: int) -> str:
    return f" ({stage}/{stages})" if stages > 1 else ""


def painting(label: str, stage: int, stages: int) -> str:
    return _("🎨 Painting with {network}").format(network=label) + f"{_stage(stage, stages)}…"


def painting_instant(title: str, stage: int, stages: int) -> str:
    return f"{title}{_stage(stage, stages)}…"


def quick_caption(seconds: float, painting_follows: bool) -> str:
    if painting_follows:
        return _("⚡ Quick version — {seconds} s. The full painting is on its way (a few minutes)."
                 ).format(seconds=f"{seconds:.1f}")
    return _("⚡ Quick version — {seconds} s. Paint it fully for the finest result (a few minutes):"
             ).format(seconds=f"{seconds:.1f}")


def done(seconds: float) -> str:
    return _("✅ Done in {seconds} s.").format(seconds=f"{seconds:.1f}")


def result_caption(label: str, seconds: float) -> str:
    return _("{title} — {seconds} s").format(title=label, seconds=f"{seconds:.1f}")


def upscaled(width: int, height: int) -> str:
    return _("Upscaled ×4: {width}×{height} px, as a file so Telegram keeps every pixel.").format(
        width=width, height=height)


def album_choice(number: int) -> str:
    """The button that picks the album's picture `number` (counted from 1) as the painting."""
    return _("🖼 Picture {number}").format(number=number)


# ---- buttons ---------------------------------------------------------------------------------------
def paint_with(label: str) -> str:
    return _("🎨 Paint with {network}").format(network=label)


def try_backbone(label: str) -> str:
    return _("🔁 Try {network}").format(network=label)


def full_quality(width: int, height: int) -> str:
    return _("Full quality: {width}×{height} px, as a file so Telegram keeps every pixel.").format(
        width=width, height=height)


def full_quality_gone(days: float) -> str:
    return ngettext("I no longer keep that picture's full-quality file (I keep them for {days} day).",
                    "I no longer keep that picture's full-quality file (I keep them for {days} days).",
                    _day_count(days)).format(days=f"{days:g}")


def upscale_too_large(side: int, limit: int) -> str:
    return _("×4 would make this picture {side} px on its long side, and I make upscaled pictures up to {limit} px. "
             "To upscale, choose a size of at most {most} px in /settings and paint it again.").format(
        side=side, limit=limit, most=limit // 4)


def upscale_one(label: str) -> str:
    return _("🔍 Upscale {network} ×4").format(network=label)


# ---- /settings -------------------------------------------------------------------------------------
_STRENGTHS = {"soft": N_("Soft"), "normal": N_("Normal"), "strong": N_("Strong")}
_STRENGTHS_IN_TEXT = {"soft": N_("soft"), "normal": N_("normal"), "strong": N_("strong")}
_BRUSHES = {"fine": N_("Fine brush"), "medium": N_("Medium brush"), "bold": N_("Bold brush")}
_BRUSHES_IN_TEXT = {"fine": N_("fine"), "medium": N_("medium"), "bold": N_("bold")}


def brush_label(brush: str) -> str:
    return _(_BRUSHES[brush])


def strength_label(strength: str) -> str:
    return _(_STRENGTHS[strength])


def colours_label(keep_colors: bool) -> str:
    return _("Photo's colours") if keep_colors else _("Painting's colours")


def settings_text(strength: str, size: int, max_side: int, brush: str, keep_colors: bool,
                  full_with: str | None) -> str:
    """The /settings message; `size` 0: the photo's own (up to `max_side`); `full_with`: the network that
    paints fully right after the quick version ("" on a bot with one network), None to ask each time."""
    if full_with is None:
        after = _("ask me")
    elif full_with:
        after = _("paint fully with {network}").format(network=full_with)
    else:
        after = _("paint fully")
    lines = [_("⚙️ Your settings, used for your next pictures. Tap to change:"),
             _("• Style strength: {strength}").format(strength=_(_STRENGTHS_IN_TEXT[strength])),
             _("• Size: {size} px").format(size=size) if size
             else _("• Size: your photo's own, up to {size} px").format(size=max_side),
             _("• Brush: {brush} (bolder strokes, or finer)").format(brush=_(_BRUSHES_IN_TEXT[brush])),
             _("• Colours: from your photo") if keep_colors else _("• Colours: from the painting"),
             _("• After the quick version: {after}").format(after=after)]
    return "\n".join(lines)


_COMMANDS = {
    "start": N_("what I do"),
    "help": N_("how to use me"),
    "settings": N_("strength, size, brush, colours"),
    "language": N_("English or Russian"),
    "cancel": N_("stop the current request"),
}


def commands() -> dict[str, str]:
    """The command menu: each command and what it does."""
    return {name: _(what) for name, what in _COMMANDS.items()}
