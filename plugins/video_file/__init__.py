"""Built-in plugin: the `video-file` generator, which brings an existing MP4 into a run (no labels)."""

from pathlib import Path

from pydantic import Field

from worldsim.hookspecs import hookimpl
from worldsim.stages import Generator, StageConfig
from worldsim.types import GeneratedVideo, Plan


class VideoFileConfig(StageConfig):
    path: str = Field(description="the video to use (any format ffmpeg reads); the prompt then only describes it")
    max_frames: int = Field(64, ge=2, le=4096, description="keep at most this many frames from the start")


class VideoFileGenerator(Generator):
    name = "video-file"
    description = "An existing video file as the generated clip (no labels): for reconstructing and scoring real footage"
    Config = VideoFileConfig

    def run(self, plan: Plan, seed: int, out_dir: Path) -> GeneratedVideo:
        from worldsim.errors import InputError
        from worldsim.io.video import read_mp4, write_mp4

        source = Path(self.config.path).expanduser()
        if not source.is_file():
            raise InputError(f"video file '{source}' does not exist; set generator.path to an existing video")
        try:
            frames, fps = read_mp4(source)
        except Exception as exc:
            raise InputError(f"video file '{source}' could not be decoded ({type(exc).__name__}); give a video ffmpeg reads") from None
        frames = frames[: self.config.max_frames, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
        t, h, w, _ = frames.shape
        if t < 2:
            raise InputError(f"video file '{source}' has {t} frame(s); at least 2 are needed")
        write_mp4(out_dir / "video.mp4", frames, max(1, round(fps)))
        return GeneratedVideo(video=f"{out_dir.name}/video.mp4", fps=max(1, round(fps)), num_frames=t, width=w, height=h,
                              generator=self.name)


@hookimpl
def register_generators(register):
    register(VideoFileGenerator)
