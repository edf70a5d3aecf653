"""The jobs the bots queue, run on worker threads: fetch the pictures, run the workflow, send the result.

Every outcome reaches the user: the result, or a plain-words reason (a refused picture, a download that
failed, a cancellation, a restart, or an unexpected error, which is also logged with its traceback).
A job's files live in its own temporary folder, deleted when the job ends whatever the outcome.
"""
from __future__ import annotations

import io
import logging
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from telebot import TeleBot
from telebot.types import InputMediaPhoto

from bots import texts
from bots.config import BotConfig
from bots.conversation import Remembered, ResultMemory
from bots.engines import Backbone
from bots.jobs import CancelReason, Job, JobState
from bots.keyboards import compared_keyboard, result_keyboard, style_keyboard
from bots.media import Unusable, download, jpeg
from bots.progress import Sketch, StatusMessage
from bots.styles import instant_title
from bots.telegram_calls import say
from bots.workflow import InstantRequest, Painting, PaintRequest, TransferWorkflow
from transfer.images import ImageError
from transfer.progress import Cancelled, check_cancel

__all__ = ["Services", "ChatTask", "PaintTask", "InstantTask", "UpscaleTask"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What jobs need from their bot."""

    telegram: TeleBot
    workflow: TransferWorkflow
    results: ResultMemory
    config: BotConfig
    backbones: tuple[Backbone, ...]
    upscaling: bool
    instant_styles: tuple[str, ...]


class ChatTask(ABC):
    """A job for one chat, reporting through its status message; subclasses do the `work`."""

    def __init__(self, services: Services, chat_id: int, status: StatusMessage) -> None:
        self.services, self.chat_id, self.status = services, chat_id, status

    @abstractmethod
    def work(self, job: Job, folder: Path) -> None:
        """The job itself; its files go in `folder`, which is deleted afterwards."""

    def moved(self, job: Job, position: int) -> None:
        if job.state is JobState.QUEUED:
            self.status.show(texts.queued(position))

    def dropped(self, job: Job) -> None:
        self._stopped(job)

    def run(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="stylebot-job-", dir=self.services.config.temp_dir) as folder:
                check_cancel(job.cancelled)
                self.work(job, Path(folder))
        except Cancelled:
            self._stopped(job)
        except Unusable as exc:
            self._failed(str(exc))
        except ImageError as exc:
            self._failed(texts.refused_image(str(exc)))
        except Exception:
            log.exception("job %d for chat %d failed", job.id, self.chat_id)
            self._failed(texts.JOB_FAILED)
        else:
            self.status.show(texts.done(time.perf_counter() - started))

    def fetch_to(self, file_id: str, path: Path) -> Path:
        """Download a picture of the chat into the job's folder (raises Unusable)."""
        path.write_bytes(download(self.services.telegram, file_id, self.services.config.download_limit))
        return path

    def send_result(self, image: Image.Image, caption: str, request: PaintRequest | InstantRequest,
                    painted: Backbone | None = None) -> None:
        """One result picture with its buttons, which find `request` in the ResultMemory."""
        s = self.services
        number = s.results.remember(Remembered(self.chat_id, request))
        s.telegram.send_photo(self.chat_id, jpeg(image), caption=caption,
                              reply_markup=result_keyboard(number, painted, s.backbones, s.upscaling))

    def send_album(self, pictures: list[tuple[Image.Image, str]]) -> list[str]:
        """Captioned pictures as one album; returns their file ids, in order."""
        album = [InputMediaPhoto(jpeg(image), caption=caption) for image, caption in pictures]
        return [m.photo[-1].file_id for m in self.services.telegram.send_media_group(self.chat_id, album)]

    def _stopped(self, job: Job) -> None:
        if job.cancel_reason is CancelReason.SHUTDOWN:
            self._failed(texts.SHUTDOWN)
        else:
            self.status.show(texts.CANCELLED)

    def _failed(self, message: str) -> None:
        """Say why, in a new message (so the user is notified), and close the status message."""
        self.status.show(texts.NOT_FINISHED)
        say(self.services.telegram, self.chat_id, message)


class PaintTask(ChatTask):
    """Paint a request with one backbone (a photo with buttons) or several (an album and a follow-up)."""

    def __init__(self, services: Services, chat_id: int, status: StatusMessage, request: PaintRequest) -> None:
        super().__init__(services, chat_id, status)
        self.request = request

    def work(self, job: Job, folder: Path) -> None:
        request = self.request
        content = self.fetch_to(request.content, folder / "content")
        style = (request.style.builtin_path() if request.style.builtin
                 else self.fetch_to(request.style.file_id or "", folder / "style"))
        sketch = Sketch(self.services.telegram, self.chat_id)
        try:
            paintings = self.services.workflow.paint(content, style, request.backbones, request.settings,
                                                     self.status.progress, job.cancelled, sketch.show)
        finally:
            sketch.remove()  # the result (or the reason there is none) takes its place
        if len(paintings) == 1:
            painting = paintings[0]
            self.send_result(painting.image, texts.result_caption(painting.backbone.label, painting.seconds),
                             request, painting.backbone)
        else:
            self._send_comparison(paintings)

    def _send_comparison(self, paintings: list[Painting]) -> None:
        s = self.services
        sent = self.send_album([(p.image, texts.result_caption(p.backbone.label, p.seconds)) for p in paintings])
        pictures = {p.backbone: file_id for p, file_id in zip(paintings, sent)}
        number = s.results.remember(Remembered(self.chat_id, self.request, pictures))
        s.telegram.send_message(self.chat_id, texts.COMPARED,
                                reply_markup=compared_keyboard(number, s.backbones, s.upscaling))


class InstantTask(ChatTask):
    """Paint a photo in one instant style (a photo with buttons), or in all of them as a preview (an album,
    then the styles to pick from: the draft is still waiting for its style)."""

    def __init__(self, services: Services, chat_id: int, status: StatusMessage, request: InstantRequest) -> None:
        super().__init__(services, chat_id, status)
        self.request = request

    def work(self, job: Job, folder: Path) -> None:
        content = self.fetch_to(self.request.content, folder / "content")
        paintings = self.services.workflow.stylize(content, self.request.styles, self.request.settings,
                                                   self.status.progress, job.cancelled)
        captioned = [(p.image, texts.result_caption(instant_title(p.style), p.seconds)) for p in paintings]
        if len(captioned) == 1:
            self.send_result(*captioned[0], self.request)
            return
        self.send_album(captioned)
        self.services.telegram.send_message(self.chat_id, texts.PREVIEWED,
                                            reply_markup=style_keyboard(self.services.instant_styles, preview=False))


class UpscaleTask(ChatTask):
    """SRGAN x4 on a result, sent as a PNG file so Telegram does not recompress it."""

    def __init__(self, services: Services, chat_id: int, status: StatusMessage, picture: str) -> None:
        super().__init__(services, chat_id, status)
        self.picture = picture

    def work(self, job: Job, folder: Path) -> None:
        source = self.fetch_to(self.picture, folder / "result")
        image = self.services.workflow.upscale(source, self.status.progress, job.cancelled)
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        self.services.telegram.send_document(self.chat_id, buffer.getvalue(), visible_file_name="stylebot-x4.png",
                                             caption=texts.upscaled(image.width, image.height))
