"""An event of real photos, analysed by the default pack and clustered, for the selfie endpoint's tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg
import pytest

from shared.clustering.cluster_event import cluster_event
from shared.face_analysis import DEFAULT_PACK, FaceAnalyzer
from shared.settings import Settings, get_settings
from tests.clustering.db_faces import add_faces
from tests.factories import add_member, make_event, make_media
from tests.functions.conftest import FunctionClient, actions_api, api_env, function_client  # noqa: F401 (fixtures)

PEOPLE = ("lfw_David_Beckham", "bbt_amy", "deepface_p03")


@dataclass
class PhotoEvent:
    event: uuid.UUID
    organiser: uuid.UUID
    member: uuid.UUID
    other_member: uuid.UUID
    selfies: dict[str, Path]
    media: dict[str, set[uuid.UUID]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def analysed_photos(faces_data_dir: Path, models_dir: Path) -> dict[str, list[tuple[Path, np.ndarray]]]:
    """Per person: (photo, embedding of its largest face), once per session."""
    analyzer = FaceAnalyzer(Settings.from_env({"FACECLUSTER_MODEL_DIR": str(models_dir), "MODEL_PACK": DEFAULT_PACK}))
    found = {}
    for person in PEOPLE:
        found[person] = []
        for photo in sorted((faces_data_dir / "dev" / person).iterdir()):
            faces = analyzer.analyze_path(photo).faces
            largest = max(faces, key=lambda f: f.bbox[2] - f.bbox[0])
            found[person].append((photo, largest.embedding))
    analyzer.close()
    return found


@pytest.fixture
def selfie_env(api_env: None,  # noqa: F811 (the imported fixture)
               models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_PACK", DEFAULT_PACK)
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))


@pytest.fixture
def photo_event(db: psycopg.Connection, selfie_env: None, analysed_photos) -> PhotoEvent:
    """Each person's photos but the first, clustered; the first photos are the selfies."""
    organiser = uuid.uuid4()
    event = make_event(db, owner_id=organiser)
    made = PhotoEvent(event, organiser, add_member(db, event), add_member(db, event),
                      {person: photos[0][0] for person, photos in analysed_photos.items()})
    for person, photos in analysed_photos.items():
        media = [make_media(db, event) for _ in photos[1:]]
        add_faces(db, event, media, np.stack([e for _, e in photos[1:]]), model=DEFAULT_PACK)
        made.media[person] = set(media)
    cluster_event(db, event, get_settings(), DEFAULT_PACK)
    return made


@pytest.fixture
def selfie_api(selfie_env: None) -> FunctionClient:
    return function_client("face_selfie_search")


def search(api: FunctionClient, event: uuid.UUID, body: bytes, *, user: uuid.UUID | None = None,
           token: str | None = None):
    headers = {"Content-Type": "image/jpeg"}
    if user is not None:
        from tests.functions.conftest import mint_token
        token = mint_token(user)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.client.post("/", data=body, query_string={"event_id": str(event)}, headers=headers)
