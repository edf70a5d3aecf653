"""The jobs, as a worker runs them: fetch the pictures, run the workflow, deliver the result.

A job is a record of the journal (`bots.store.JobRecord`): its kind, its chat and what it asks for, so
that any worker process can run it again after a crash or a restart. Every outcome reaches the user:
the result, or a plain-words reason (a refused picture, a download that failed, a cancellation, or an
unexpected error, which is also logged with its traceback), all said in the language of the user who
asked (`bots.jobs.notices`). What the user waits for (the result, the final status, the reason) is
delivered through the retry policy (`bots.botapi.delivery`), and the journal says "delivered" the moment
Telegram took the result, so a crash after it never paints it twice. A job's files live in its own
private folder (`BotConfig.job_folder`), deleted when the job ends whatever the outcome.
"""
from __future__ import annotations

import errno
import io
import logging
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PIL import Image
from telebot.types import InputMediaPhoto

from bots.botapi.keyboards import compared_keyboard, quick_keyboard, result_keyboard, style_keyboard
from bots.botapi.media import Unusable, clip_limits, download, jpeg, probed
from bots.common import metrics, texts
from bots.common.backbone import Backbone
from bots.common.requests import InstantRequest, PaintRequest, Remembered
from bots.common.styles import instant_title
from bots.jobs.runner import CancelReason, Stop
from bots.jobs.services import Services
from bots.jobs.workflow import Painting
from bots.store import JobRecord, JobStatus
from bots.store.codec import decode_request
from transfer.images import ImageError
from transfer.progress import Cancelled, check_cancel

__all__ = ["run_job", "InProcess", "ChatTask", "PaintTask", "QuickTask", "InstantTask", "UpscaleTask", "ClipTask"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def run_job(record: JobRecord, services: Services, stop: Stop) -> JobStatus | None:
    """Run a journalled job to its end; returns its final status, or None when a shutdown stopped it."""
    task = {"paint": PaintTask, "quick": QuickTask, "instant": InstantTask, "upscale": UpscaleTask,
            "clip": ClipTask}[record.kind](services, record)
    return task.run(stop)


class InProcess:
    """The embedded runner's executor that computes in the chat process's own threads, with services it
    was given: for tests and debugging (a crash here takes the chat down with it; production uses
    `bots.jobs.runner.processes.WorkerProcesses`)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def start(self) -> None:
        pass

    def execute(self, record: JobRecord, stop: Stop, deadline: float | None = None) -> JobStatus | None:
        return run_job(record, self.services, stop)  # a thread cannot be killed: no deadline here

    def shutdown(self) -> None:
        pass

    def stats(self) -> tuple[list, int, int]:
        return [], 0, 0


class ChatTask(ABC):
    """A job for one chat, reporting through its status message; subclasses do the `work`."""

    def __init__(self, services: Services, record: JobRecord) -> None:
        self.services, self.record, self.chat_id = services, record, record.chat_id
        self.telegram, self.notices = services.notifier.telegram, services.notifier.about(record)
        self._delivered = False  # the journal says so: the job's last delivery went through

    @abstractmethod
    def work(self, stop: Stop, folder: Path) -> None:
        """The job itself, up to the delivery of its result; its files go in `folder`."""

    def run(self, stop: Stop) -> JobStatus | None:
        """Work, deliver and journal the outcome, all said in the language of the user who asked."""
        with self.notices.speaking():
            return self._run(stop)

    def _run(self, stop: Stop) -> JobStatus | None:
        started = time.perf_counter()
        folder = self.services.config.job_folder(self.record.id)
        shutil.rmtree(folder, ignore_errors=True)  # what an earlier, crashed attempt left
        folder.mkdir(mode=0o700, parents=True)
        try:
            check_cancel(stop.cancelled)
            self.work(stop, folder)
        except Cancelled:
            if stop.cancel_reason is CancelReason.SHUTDOWN:
                return None
            self.notices.cancelled()
            return JobStatus.CANCELLED
        except Unusable as exc:
            return self._failed(str(exc))
        except ImageError as exc:
            return self._failed(texts.refused_image(exc.reason, exc.details))
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                log.exception("job %d for chat %d failed", self.record.id, self.chat_id)
                return self._failed(texts.JOB_FAILED)
            log.error("job %d for chat %d: the disk is full (%s)", self.record.id, self.chat_id, exc)
            metrics.count_disk_full()
            return self._failed(texts.STORAGE_FULL)
        except Exception:
            log.exception("job %d for chat %d failed", self.record.id, self.chat_id)
            return self._failed(texts.JOB_FAILED)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.notices.delivered(time.perf_counter() - started, journalled=self._delivered)
        return JobStatus.DELIVERED

    def deliver(self, what: str, send: Callable[[], T], last: bool = False) -> T:
        """A Bot API call that delivers what the user waits for, retried (`bots.botapi.delivery`); the `last` one
        is journalled as delivered the moment Telegram takes it, so that neither a crash nor a restart
        after it paints the job again, and the user may ask for the next job at once."""
        sent = self.services.notifier.delivery.call(f"{what} to chat {self.chat_id}", send)
        if last:
            self._delivered = self.services.notifier.journal.finish(self.record.id, JobStatus.DELIVERED)
        return sent

    def fetch_to(self, file_id: str, path: Path) -> Path:
        """Download a picture of the chat into the job's folder (raises Unusable)."""
        path.write_bytes(download(self.telegram, file_id, self.services.config.download_limit,
                                  delivery=self.services.notifier.delivery))
        return path

    def send_result(self, image: Image.Image, caption: str, request: PaintRequest | InstantRequest,
                    painted: Backbone | None = None) -> None:
        """One result picture with its buttons, which find `request` in the result memory."""
        s = self.services
        number = s.results.remember(Remembered(self.chat_id, request))
        keyboard = result_keyboard(number, painted, s.backbones, s.upscaling, s.originals.keep(number, image))
        data = jpeg(image)
        self.deliver("a result", lambda: self.telegram.send_photo(self.chat_id, data, caption=caption,
                                                                  reply_markup=keyboard), last=True)

    def send_album(self, pictures: list[tuple[Image.Image, str]]) -> list[str]:
        """Captioned pictures as one album; returns their file ids, in order."""
        encoded = [(jpeg(image), caption) for image, caption in pictures]
        sent = self.deliver("an album", lambda: self.telegram.send_media_group(
            self.chat_id, [InputMediaPhoto(data, caption=caption) for data, caption in encoded]))
        return [m.photo[-1].file_id for m in sent]

    def _failed(self, reason: str) -> JobStatus:
        self.notices.failed(reason)
        return JobStatus.FAILED


class PaintTask(ChatTask):
    """Paint a request with one backbone (a photo with buttons) or several (an album and a follow-up)."""

    def work(self, stop: Stop, folder: Path) -> None:
        request = decode_request(self.record.payload["request"])
        content = self.fetch_to(request.content, folder / "content")
        style = (request.style.builtin_path() if request.style.builtin
                 else self.fetch_to(request.style.file_id or "", folder / "style"))
        paintings = self.services.workflow.paint(content, style, request.backbones, request.settings,
                                                 self.notices.progress, stop.cancelled)
        if len(paintings) == 1:
            painting = paintings[0]
            self.send_result(painting.image, texts.result_caption(painting.backbone.label, painting.seconds),
                             request, painting.backbone)
        else:
            self._send_comparison(request, paintings)

    def _send_comparison(self, request: PaintRequest, paintings: list[Painting]) -> None:
        s = self.services
        sent = self.send_album([(p.image, texts.result_caption(p.backbone.label, p.seconds)) for p in paintings])
        pictures = {p.backbone: file_id for p, file_id in zip(paintings, sent)}
        number = s.results.remember(Remembered(self.chat_id, request, pictures))
        self.deliver("the comparison's buttons", lambda: self.telegram.send_message(
            self.chat_id, texts.COMPARED, reply_markup=compared_keyboard(number, s.backbones, s.upscaling)),
            last=True)


class QuickTask(ChatTask):
    """The quick universal version of a painting request, in seconds on the fast lane, with the buttons to
    paint it fully (or a full painting already following it: the payload's "then")."""

    def work(self, stop: Stop, folder: Path) -> None:
        s, request = self.services, decode_request(self.record.payload["request"])
        content = self.fetch_to(request.content, folder / "content")
        style = (request.style.builtin_path() if request.style.builtin
                 else self.fetch_to(request.style.file_id or "", folder / "style"))
        quick = s.workflow.quick(content, style, request.settings, self.notices.progress, stop.cancelled)
        number = s.results.remember(Remembered(self.chat_id, request))
        keyboard = quick_keyboard(number, s.backbones, s.upscaling, s.originals.keep(number, quick.image))
        data = jpeg(quick.image)
        caption = texts.quick_caption(quick.seconds, painting_follows=bool(self.record.payload.get("then")))
        self.deliver("a quick version", lambda: self.telegram.send_photo(
            self.chat_id, data, caption=caption, reply_markup=keyboard), last=True)


class InstantTask(ChatTask):
    """Paint a photo in one instant style (a photo with buttons), or in all of them as a preview (an album,
    then the styles to pick from: the draft is still waiting for its style)."""

    def work(self, stop: Stop, folder: Path) -> None:
        request = decode_request(self.record.payload["request"])
        content = self.fetch_to(request.content, folder / "content")
        paintings = self.services.workflow.stylize(content, request.styles, request.settings,
                                                   self.notices.progress, stop.cancelled)
        captioned = [(p.image, texts.result_caption(instant_title(p.style), p.seconds)) for p in paintings]
        if len(captioned) == 1:
            self.send_result(*captioned[0], request)
            return
        self.send_album(captioned)
        keyboard = style_keyboard(self.services.instant_styles, preview=False)
        self.deliver("the styles to pick from", lambda: self.telegram.send_message(
            self.chat_id, texts.PREVIEWED, reply_markup=keyboard), last=True)


class UpscaleTask(ChatTask):
    """x4 on a result, sent as a PNG file so Telegram does not recompress it; refused (with the way out)
    when it would be larger than `STYLEBOT_UPSCALE_MAX_SIDE`."""

    def work(self, stop: Stop, folder: Path) -> None:
        source = self.fetch_to(self.record.payload["picture"], folder / "result")
        with Image.open(source) as picture:
            side = 4 * max(picture.size)
        if side > self.services.config.upscale_max_side:
            raise Unusable(texts.upscale_too_large(side, self.services.config.upscale_max_side))
        image = self.services.workflow.upscale(source, self.notices.progress, stop.cancelled)
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        data, caption = buffer.getvalue(), texts.upscaled(image.width, image.height)
        self.deliver("an upscaled picture", lambda: self.telegram.send_document(
            self.chat_id, data, visible_file_name="stylebot-x4.png", caption=caption), last=True)


class ClipTask(ChatTask):
    """A clip painted frame by frame (`TransferWorkflow.clip`), sent back as the kind it came as: a GIF as a
    silent animation, a video with its sound, a video note as a round video note; its button paints the
    same clip in another style."""

    def work(self, stop: Stop, folder: Path) -> None:
        s, request = self.services, decode_request(self.record.payload["request"])
        clip = probed(self.fetch_to(request.content, folder / "clip"), clip_limits(s.config, request.kind))
        style = None
        if request.style is not None:
            style = (request.style.builtin_path() if request.style.builtin
                     else self.fetch_to(request.style.file_id or "", folder / "style"))
        output = folder / "painted.mp4"
        painted = s.workflow.clip(clip, style, request, output, self.notices.progress, stop.cancelled)
        data = output.read_bytes()
        title = instant_title(request.instant) if request.instant else texts.QUICK_TITLE
        caption = texts.clip_caption(title, painted.seconds, painted.frames)
        width, height = clip.size
        seconds = round(clip.seconds)
        keyboard = result_keyboard(s.results.remember(Remembered(self.chat_id, request)), None, (), False, False)
        if request.kind == "video_note":  # a video note has no caption
            self.deliver("a video note", lambda: self.telegram.send_video_note(
                self.chat_id, data, duration=seconds, length=width, reply_markup=keyboard), last=True)
        elif request.kind == "video":
            self.deliver("a video", lambda: self.telegram.send_video(
                self.chat_id, data, duration=seconds, width=width, height=height, caption=caption,
                supports_streaming=True, reply_markup=keyboard), last=True)
        else:
            self.deliver("an animation", lambda: self.telegram.send_animation(
                self.chat_id, data, duration=seconds, width=width, height=height, caption=caption,
                reply_markup=keyboard), last=True)
