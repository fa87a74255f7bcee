#!/usr/bin/env bash
# Builds both images from the Dockerfile's targets and tags them as the kustomize overlays name
# them: <REGISTRY>/temetro-auth and <REGISTRY>/temetro-mailer, each as :<version> (package.json's
# version, the tag k8s/overlays/production pins) and :latest (the base's tag, which dev uses).
#
#   scripts/build-images.sh                build and tag both
#   PUSH=1 scripts/build-images.sh         ... and push every tag (log in to the registry first)
#   scripts/build-images.sh --print-tags   print the tags only (no container engine needed)
#   scripts/build-images.sh --if-engine    as the first, but skip with a line when no engine answers (CI)
#
# REGISTRY (default ghcr.io/temetro), VERSION (default package.json's), ENGINE (default docker; podman works).
set -euo pipefail
cd "$(dirname "$0")/.."

registry=${REGISTRY:-ghcr.io/temetro}
version=${VERSION:-$(node -p 'require("./package.json").version')}
engine=${ENGINE:-docker}
targets=(auth mailer)

tags_of() { # target
  printf '%s\n' "$registry/temetro-$1:$version" "$registry/temetro-$1:latest"
}

case ${1:-} in
  --print-tags)
    for target in "${targets[@]}"; do tags_of "$target"; done
    exit 0
    ;;
  --if-engine | "") ;;
  *)
    echo "build-images: unknown option $1 (--print-tags, --if-engine)" >&2
    exit 2
    ;;
esac

if ! "$engine" info >/dev/null 2>&1; then
  if [[ ${1:-} == --if-engine ]]; then
    echo "build-images: no container engine answers ($engine info failed): images not built"
    exit 0
  fi
  echo "build-images: no container engine answers ($engine info failed); set ENGINE=podman, or start the Docker daemon" >&2
  exit 1
fi

for target in "${targets[@]}"; do
  tag_args=()
  while read -r tag; do tag_args+=(--tag "$tag"); done < <(tags_of "$target")
  echo "build-images: building $target as ${tag_args[*]}"
  "$engine" build --target "$target" "${tag_args[@]}" --label "org.opencontainers.image.version=$version" .
done

if [[ ${PUSH:-0} == 1 ]]; then
  for target in "${targets[@]}"; do
    while read -r tag; do "$engine" push "$tag"; done < <(tags_of "$target")
  done
fi
