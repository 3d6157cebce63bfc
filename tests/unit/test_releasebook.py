"""ecsbg.releasebook: a release's poll group among its ECS cluster's releases (domain.schedule)."""

from __future__ import annotations

from typing import Any

from ecsbg.releasebook import ReleaseBook


def release(name: str, cluster: str = "demo", namespace: str = "team", phase: str | None = None) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name},
            "spec": {"target": {"region": "us-east-1", "cluster": cluster, "service": name}},
            "status": {"phase": phase} if phase else {}}


def test_a_clusters_releases_are_dealt_into_groups_of_ten_by_name() -> None:
    book = ReleaseBook()
    for i in range(25):
        book.put(release(f"web-{i:02d}"))
    for i in range(3):
        book.put(release(f"api-{i}", cluster="other"))
    assert [book.poll_slot("team", f"web-{i:02d}") for i in (0, 9, 10, 19, 20, 24)] == [
        (0, 3), (0, 3), (1, 3), (1, 3), (2, 3), (2, 3)]
    assert {book.poll_slot("team", f"api-{i}") for i in range(3)} == {(0, 1)}
    assert book.poll_slot("team", "unknown") == (0, 1)  # not in the book (yet): the cluster's own tick


def test_status_writes_keep_the_groups_and_membership_changes_redeal_them() -> None:
    book = ReleaseBook()
    for i in range(11):
        book.put(release(f"web-{i:02d}"))
    assert book.poll_slot("team", "web-10") == (1, 2)
    book.put(release("web-10", phase="Progressing"))  # a watch event of a status write
    assert book.poll_slot("team", "web-10") == (1, 2)
    book.remove("team", "web-00")
    assert book.poll_slot("team", "web-10") == (0, 1)
    book.put(release("web-05", cluster="other"))  # moved to another cluster: left this one
    assert book.poll_slot("team", "web-05") == (0, 1)
    assert book.poll_slot("team", "web-10") == (0, 1)
    for i in range(20, 31):
        book.put(release(f"web-{i}"))
    assert book.poll_slot("team", "web-10") == (0, 2) and book.poll_slot("team", "web-30") == (1, 2)


def _versioned(name: str, generation: int, service: str, phase: str | None = None, uid: str = "u-1"):
    out = release(name, phase=phase)
    out["metadata"].update({"uid": uid, "generation": generation, "creationTimestamp": "2026-12-04T12:00:00Z"})
    out["spec"]["target"]["service"] = service
    return out


def test_a_status_write_updates_the_state_and_a_spec_change_the_claim() -> None:
    book = ReleaseBook()
    key = ("us-east-1", "demo", "svc-a")
    book.put(_versioned("web", 1, "svc-a"))
    book.put(_versioned("web", 1, "svc-a", phase="Progressing"))  # our status write: same generation
    assert book.state("team", "web")["phase"] == "Progressing"
    assert book.claims(key) == [("2026-12-04T12:00:00Z", "team/web", "")]
    book.put(_versioned("web", 2, "svc-b", phase="Progressing"))  # the target changed: a new generation
    assert book.claims(key) == [] and book.claims(("us-east-1", "demo", "svc-b")) != []
    book.remove("team", "web")
    book.put(_versioned("web", 2, "svc-a", uid="u-2"))  # deleted and created again: a new uid, same generation
    assert book.claims(key) == [("2026-12-04T12:00:00Z", "team/web", "")]
