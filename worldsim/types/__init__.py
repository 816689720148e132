"""The data model: one module per concept. Importing this package never imports torch."""

from worldsim.types.plan import (
    CAMERA_MOVES,
    DIRECTIONS,
    CameraMove,
    CameraSpec,
    SPEEDS,
    Direction,
    EditSpec,
    Keypoint,
    Mode,
    MotionSpec,
    ObjectSpec,
    Plan,
    Speed,
)
from worldsim.types.edits import BUILTIN_OPS, EditParams, ExtractParams, MoveParams, RecolorParams, RemoveParams, ScaleParams
from worldsim.types.trajectory import BoxTrack, ObjectTrack
from worldsim.types.camera import Camera
from worldsim.types.qa import LETTERS, PROMPT_MODES, QUESTION_TYPES, AnswerRecord, QAItem, QuestionType
from worldsim.types.manifest import ArtifactRecord, RunManifest, StageRecord
from worldsim.types.results import EditResult, EditSource, GeneratedVideo, ObjectRegistry, Reconstruction, ReplanResult, SceneObject, ScoreInput, ScoreResult
from worldsim.types.teacher import TeacherMaps
from worldsim.types.poses import CameraPoses
from worldsim.types.gaussians import GaussianScene

__all__ = [
    "CAMERA_MOVES", "CameraMove", "CameraSpec", "DIRECTIONS", "SPEEDS", "Direction", "EditSpec", "Keypoint", "Mode",
    "MotionSpec", "ObjectSpec", "Plan", "Speed", "BoxTrack", "ObjectTrack", "Camera", "CameraPoses", "QAItem",
    "QuestionType", "AnswerRecord", "LETTERS", "PROMPT_MODES", "QUESTION_TYPES", "ScoreInput", "ArtifactRecord", "RunManifest", "StageRecord", "GeneratedVideo", "GaussianScene", "Reconstruction", "TeacherMaps", "EditResult", "EditSource", "SceneObject", "ReplanResult", "ScoreResult", "ObjectRegistry",
    "BUILTIN_OPS", "EditParams", "ExtractParams", "MoveParams", "RecolorParams", "RemoveParams", "ScaleParams",
]
