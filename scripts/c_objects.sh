# Sourced by the scripts that build CSources/CFP8 outside SwiftPM (sanitize.sh, nn_accuracy.sh, fuzz.sh).
# c_objects OUT SRC...: compiles every CSources/CFP8/*.c and the extra sources SRC into OUT with
# "$CC" "${FLAGS[@]}", two at a time; an object newer than its source and every header is kept.
# Leaves the object paths in OBJS.
c_objects() {
  local out=$1 src obj
  shift
  OBJS=()
  for src in CSources/CFP8/*.c "$@"; do
    obj="$out/$(basename "${src%.c}").o"
    OBJS+=("$obj")
    if [ "$obj" -nt "$src" ] && [ -z "$(find CSources/CFP8 -name '*.h' -newer "$obj")" ]; then continue; fi
    "$CC" "${FLAGS[@]}" -c "$src" -o "$obj" &
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  done
  wait
}
