/**
 * Every failure slimwav reports on purpose is a SlimwavError: a `code` a program can switch on and a one-line
 * `message` a person can read (it names the file, tensor or argument and says what was expected and what was found).
 * The CLI prints `slimwav: <message>` and exits non-zero; anything else that escapes is a bug.
 */
export type ErrorCode =
  | 'E_ARGS'    // bad command-line or API arguments
  | 'E_IO'      // a file cannot be read or written
  | 'E_FORMAT'  // a file is not what it claims to be (bad header, truncated, lying offsets)
  | 'E_CONFIG'  // config.json is missing a field or holds an impossible value
  | 'E_SHAPE'   // a tensor is missing, extra, or has the wrong shape / dtype
  | 'E_AUDIO'   // audio that cannot be used (empty, too short, NaN/Inf, unsupported encoding)
  | 'E_MEMORY'  // a model or an input needs more memory than is available (the message says what to change)
  | 'E_WASM'    // WebAssembly (or its SIMD extension) is not available here
  | 'E_TRAP'    // a kernel trapped: a bug in slimwav, reported with the op and layer
  | 'E_WORKER'  // the Web Worker running a model (createWorkerModel) failed, was terminated or was disposed mid-call
  | 'E_UNSAFE'; // a checkpoint asks for something that would run code (pickle global not on the allow-list)

/**
 * A message as one line whatever it quotes: control characters and the Unicode line/paragraph separators (a tensor
 * name or a path from a hostile file may hold them) are written as escapes (\n, \r, \t, \uXXXX).
 */
export function oneLine(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class SlimwavError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(oneLine(message));
    this.name = 'SlimwavError';
    this.code = code;
  }
}

/** Throw a SlimwavError; handy inside expressions. */
export function fail(code: ErrorCode, message: string): never {
  throw new SlimwavError(code, message);
}
