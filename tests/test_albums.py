"""Gathering an album's parts (each its own update, handled by several threads at once) into one album."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from bots.chat.albums import Album, AlbumCollector

SETTLE = 0.2


def _part(chat: int, group: str, message_id: int) -> SimpleNamespace:
    return SimpleNamespace(chat=SimpleNamespace(id=chat), media_group_id=group, message_id=message_id)


def _collector() -> tuple[AlbumCollector, list[Album], threading.Event]:
    albums: list[Album] = []
    handed = threading.Event()

    def on_album(album: Album) -> None:
        albums.append(album)
        handed.set()

    return AlbumCollector(on_album, settle=SETTLE), albums, handed


def test_parts_from_racing_threads_and_late_batches_make_one_album_in_the_order_sent() -> None:
    collector, albums, handed = _collector()
    first_batch = [threading.Thread(target=collector.add, args=(_part(1, "g", n),)) for n in (12, 10, 11)]
    for thread in first_batch:
        thread.start()
    for thread in first_batch:
        thread.join()
    assert not handed.wait(SETTLE / 2), "handed on before the album settled"
    collector.add(_part(1, "g", 13))  # the next getUpdates batch, within the settle time
    assert handed.wait(5)
    handed.wait(SETTLE * 2)  # nothing else comes
    assert [[m.message_id for m in album.messages] for album in albums] == [[10, 11, 12, 13]]


def test_albums_of_different_chats_and_groups_stay_apart() -> None:
    collector, albums, _ = _collector()
    for part in (_part(1, "a", 1), _part(2, "a", 1), _part(1, "b", 3), _part(1, "a", 2)):
        collector.add(part)
    collector.flush()
    assert sorted((a.chat.id, a.messages[0].media_group_id, len(a.messages)) for a in albums) == [
        (1, "a", 2), (1, "b", 1), (2, "a", 1)]


def test_a_stop_hands_on_the_albums_being_gathered_at_once_and_only_once() -> None:
    collector, albums, handed = _collector()
    collector.add(_part(1, "g", 1))
    collector.add(_part(1, "g", 2))
    collector.flush()
    assert len(albums) == 1 and len(albums[0].messages) == 2
    handed.clear()
    assert not handed.wait(SETTLE * 3), "the cancelled timer handed it on again"
