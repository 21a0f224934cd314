#!/usr/bin/env bash
# What a new user does, checked on every `npm test`: clone the repository into a temporary folder with
# ../shared beside it, `npm ci` with nothing set by hand, then `npm run room` with no dist/ (so it must
# build the app itself, onnxruntime's runtime included) and check the text it prints.
# Uncommitted changes to tracked files are included (as a temporary commit in the clone); untracked
# files are not, as they would not be in a real clone. Runs outside netns-run: `npm ci` needs the registry.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

git clone -q "$repo" "$tmp/main"
wip=$(git -C "$repo" stash create)
if [ -n "$wip" ]; then
  git -C "$repo" push -q "$tmp/main" "$wip:refs/heads/fresh-clone-wip"
  git -C "$tmp/main" checkout -q fresh-clone-wip
fi
ln -s "$shared" "$tmp/shared"
cd "$tmp/main"

# Nothing set by hand: drop what a developer's shell might carry that the README does not ask for, and
# every npm_* variable that the `npm test` running this script exports (its project config among them).
clean_env=(env -u ONNXRUNTIME_NODE_INSTALL_CUDA -u ONNXRUNTIME_NODE_INSTALL -u INIT_CWD)
while IFS= read -r name; do clean_env+=(-u "$name"); done < <(env | grep -o '^npm_[A-Za-z0-9_]*' || true)
t0=$SECONDS
"${clean_env[@]}" npm ci --no-audit --no-fund >"$tmp/npm-ci.log" 2>&1 || {
  echo "fresh clone: npm ci failed:" >&2
  tail -20 "$tmp/npm-ci.log" >&2
  exit 1
}
echo "fresh clone: npm ci passed in $((SECONDS - t0)) s"

[ ! -e dist ] || { echo "fresh clone: dist/ exists before the first build" >&2; exit 1; }
prompt="And the LORD said unto Moses,"
t0=$SECONDS
out=$("${clean_env[@]}" npm run -s room -- --prompt "$prompt" --max-new-tokens 12 --temperature 0 --devices 2 2>"$tmp/room.log") || {
  echo "fresh clone: npm run room failed:" >&2
  tail -20 "$tmp/room.log" >&2
  exit 1
}
echo "fresh clone: npm run room passed in $((SECONDS - t0)) s: $out"
# The default model's greedy continuation (public/models/chorus-kjv/README.md). Whether a space joins
# prompt and continuation is the detokenizer's business, not this check's.
expected="Go, and let the people go up"
case "$out" in
  "$prompt"*"$expected"*) ;;
  *) echo "fresh clone: expected the prompt, then \"$expected\"" >&2; exit 1 ;;
esac
for f in dist/ort/ort-wasm-simd-threaded.jsep.mjs dist/ort/ort-wasm-simd-threaded.jsep.wasm; do
  [ -s "$f" ] || { echo "fresh clone: the build has no $f" >&2; exit 1; }
done
echo "fresh clone: 2 passed, 0 failed"
