#!/bin/sh
# Compressed audio fixtures for test/format/codecs.test.ts, all made from the committed WAVs in test/fixtures/audio/
# (themselves made by scripts/make_fixtures.py --only audio from espeak-ng speech), so every decoded file can be
# compared with the WAV of the same signal:
#   speech16k.flac        speech16k.wav as FLAC (lossless: decodes bit-exactly to the WAV's samples)
#   speech22k-stereo.flac speech22k.wav as 2-channel FLAC, left = the speech, right = silence (the mono mix is half
#                         the speech, exactly), 22 050 Hz (resampled to 16 kHz by slimwav)
#   speech16k-6ch.flac   the first 0.25 s of speech16k.wav as 6-channel FLAC, channel 1 = the speech, 2..6 silent
#                         (the mono mix is the speech / 6)
#   speech16k.mp3         MP3 (LAME, 64 kbit/s CBR, mono, 16 kHz, with the LAME header that gives the gapless length)
#   speech22k.ogg         Ogg Vorbis (quality 4, mono, 22 050 Hz)
#   speech16k.opus        Ogg Opus (32 kbit/s, mono; Opus always decodes at 48 kHz)
# Needs Debian's sox and ffmpeg (with libmp3lame, libvorbis, libopus). Run from the repository root:
#   sh scripts/make_audio_fixtures.sh [out-dir]        (default test/fixtures/audio)
# The encoders are deterministic for these options (-bitexact, no metadata), so re-running gives the same files.
set -eu
out=${1:-test/fixtures/audio}
src=test/fixtures/audio
for f in speech16k.wav speech22k.wav; do
  [ -f "$src/$f" ] || { echo "make_audio_fixtures.sh: $src/$f missing; run /usr/bin/python3 scripts/make_fixtures.py --only audio" >&2; exit 1; }
done
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
sox "$src/speech16k.wav" -b 16 "$out/speech16k.flac"
sox "$src/speech22k.wav" -b 16 -c 2 "$out/speech22k-stereo.flac" remix 1 0
sox "$src/speech16k.wav" -b 16 -c 6 "$out/speech16k-6ch.flac" trim 0 0.25 remix 1 0 0 0 0 0
ff -i "$src/speech16k.wav" -map_metadata -1 -bitexact -c:a libmp3lame -b:a 64k -id3v2_version 0 "$out/speech16k.mp3"
ff -i "$src/speech22k.wav" -map_metadata -1 -bitexact -fflags +bitexact -c:a libvorbis -q:a 4 "$out/speech22k.ogg"
ff -i "$src/speech16k.wav" -map_metadata -1 -bitexact -fflags +bitexact -c:a libopus -b:a 32k "$out/speech16k.opus"
ls -l "$out"/speech16k.flac "$out"/speech22k-stereo.flac "$out"/speech16k-6ch.flac "$out"/speech16k.mp3 "$out"/speech22k.ogg "$out"/speech16k.opus
