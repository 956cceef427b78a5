"""The image a service runs: pulled by its pinned reference, or built from the repository.

A `RemoteImage` pins exactly what the spec says (`repo:tag`, `repo@sha256:…` or both);
the container then runs the pulled image's id, so a re-tag upstream cannot change what
runs without a new plan. Services with a `build_context` (the bundled PSRA API, the
backup container) are built with `docker.Image` from that directory of this repository
and tagged with the spec's image reference; they are never pushed (one host).
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker as docker

from infra.spec.models import ServiceSpec

REPO_ROOT = Path(__file__).resolve().parent.parent

ImageResource = docker.RemoteImage | docker.Image


def build_context_path(context: str) -> str:
    """The context relative to the project directory (Pulumi's working directory), so plans
    are the same on every checkout; refuses a context outside the repository."""
    path = (REPO_ROOT / context).resolve()
    if REPO_ROOT not in path.parents and path != REPO_ROOT:
        raise ValueError(f"build context {context!r} leaves the repository ({REPO_ROOT})")
    return path.relative_to(REPO_ROOT).as_posix()


def image_for(name: str, service: ServiceSpec, opts: pulumi.ResourceOptions) -> ImageResource:
    """A pinned `RemoteImage`, or a local `docker.Image` build when the service has a `build_context`."""
    if service.build_context is None:
        return docker.RemoteImage(name, name=service.image, keep_locally=True, opts=opts)
    context = build_context_path(service.build_context)
    return docker.Image(
        name,
        image_name=service.image,
        build=docker.DockerBuildArgs(context=context, dockerfile=f"{context}/Dockerfile", platform="linux/amd64"),
        skip_push=True,
        # the build needs a Docker engine; a preview must not try to build
        build_on_preview=False,
        opts=opts,
    )


def image_reference(image: ImageResource) -> pulumi.Output[str]:
    """What a container's `image` input should be: the pulled image id, or the built tag."""
    if isinstance(image, docker.RemoteImage):
        return image.image_id
    return image.image_name
