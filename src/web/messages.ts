/**
 * Every failure a person can meet, as one clear message with what to do next. Pure (no DOM), so each mapping is
 * unit-tested in Node; notices.ts shows them.
 */

export type NoticeCode =
  | 'no-webassembly'
  | 'no-simd'
  | 'no-worker'
  | 'model-failed'
  | 'live-model-fallback'
  | 'runtime-failed'
  | 'insecure-context'
  | 'camera-denied'
  | 'no-camera'
  | 'camera-busy'
  | 'screen-denied'
  | 'screen-unsupported'
  | 'no-face'
  | 'no-face-in-image'
  | 'not-an-image'
  | 'video-unreadable'
  | 'video-too-long'
  | 'analysis-failed';

export interface Notice {
  code: NoticeCode;
  level: 'error' | 'warning' | 'info';
  title: string;
  detail: string;
}

export function notice(code: NoticeCode, extra?: string): Notice {
  switch (code) {
    case 'no-webassembly':
      return { code, level: 'error', title: 'This browser cannot run WebAssembly.', detail: 'emolens analyses faces on your device with WebAssembly. Use a current Chrome, Edge, Firefox or Safari, and check that WebAssembly is not disabled by a policy or extension.' };
    case 'no-simd':
      return { code, level: 'error', title: 'This browser lacks WebAssembly SIMD.', detail: 'The on-device models need WebAssembly SIMD (Chrome/Edge 91+, Firefox 89+, Safari 16.4+). Update the browser, or turn off any setting that disables WebAssembly optimisations.' };
    case 'no-worker':
      return { code, level: 'error', title: 'This browser has no module Web Workers.', detail: 'emolens runs the analysis in a Web Worker so the page stays responsive. Use a current Chrome, Edge, Firefox or Safari.' };
    case 'model-failed':
      return { code, level: 'error', title: 'The models failed to load.', detail: `${extra ? `${extra}. ` : ''}Reload the page; if it persists, check that the emolens models folder is complete (each <name>.onnx needs its <name>.json) and restart emolens serve.` };
    case 'live-model-fallback':
      return { code, level: 'warning', title: 'The live view uses the full emotion model.', detail: `${extra ? `${extra}. ` : ''}Everything works, at a lower frame rate. To get the fast live model back, put its <name>.onnx and <name>.json in the models folder and restart emolens serve (or choose one with --live-model).` };
    case 'runtime-failed':
      return { code, level: 'error', title: 'The ONNX runtime failed to load.', detail: `${extra ? `${extra}. ` : ''}Reload the page; if it persists, rebuild the web app (npm run build) and restart emolens serve.` };
    case 'insecure-context':
      return { code, level: 'error', title: 'The camera is only available on a secure page.', detail: `Browsers allow cameras only on https:// pages or on localhost. Open ${extra ?? 'http://localhost:<port>/'} on this machine, or put emolens behind HTTPS.` };
    case 'camera-denied':
      return { code, level: 'error', title: 'Camera access was blocked.', detail: 'Allow the camera for this page (the camera icon in the address bar, or the browser\'s site settings), then press Start camera again. Uploads still work without a camera.' };
    case 'no-camera':
      return { code, level: 'error', title: 'No camera was found.', detail: 'Connect a camera (or close the app holding it) and press Start camera again — or use Share screen, or drop images below.' };
    case 'camera-busy':
      return { code, level: 'error', title: 'The camera could not be started.', detail: 'Another application may be using it. Close it, or pick another camera, and try again.' };
    case 'screen-denied':
      return { code, level: 'warning', title: 'Screen sharing was cancelled.', detail: 'Press Share screen again and pick a window or screen (for example a video-call gallery).' };
    case 'screen-unsupported':
      return { code, level: 'error', title: 'This browser cannot share the screen.', detail: 'Screen capture needs a desktop Chrome, Edge, Firefox or Safari.' };
    case 'no-face':
      return { code, level: 'info', title: 'No face found.', detail: `${extra ? `${extra}: ` : ''}faces need to be frontal-ish, lit and at least about 30 pixels wide. Move closer to the camera or improve the light.` };
    case 'no-face-in-image':
      return { code, level: 'info', title: 'No face found.', detail: `${extra ? `${extra}: ` : ''}the detector found no face. Faces need to be frontal-ish, lit and at least about 30 pixels wide.` };
    case 'not-an-image':
      return { code, level: 'warning', title: 'That file is not an image or video this browser can read.', detail: `${extra ? `${extra}: ` : ''}drop JPEG, PNG, WebP, GIF or AVIF images, or a WebM / MP4 video.` };
    case 'video-unreadable':
      return { code, level: 'error', title: 'This browser cannot decode that video.', detail: `${extra ? `${extra}: ` : ''}the file is damaged or in a codec this browser lacks (some Chromium builds have no H.264). Convert it to WebM (ffmpeg -i in.mp4 -c:v libvpx-vp9 out.webm), or analyse it on the command line with emolens video.` };
    case 'video-too-long':
      return { code, level: 'warning', title: 'Only the start of the video was analysed.', detail: `${extra ? `${extra}: ` : ''}the web app keeps every analysed frame in memory, so it stops at its limit. For the whole video use emolens video on the command line.` };
    case 'analysis-failed':
      return { code, level: 'error', title: 'The analysis failed.', detail: extra ?? 'Reload the page and try again.' };
  }
}

/** getUserMedia / getDisplayMedia rejections → the notice that explains them. */
export function mediaErrorNotice(err: unknown, source: 'camera' | 'screen'): Notice {
  const name = err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err) ? String((err as { name: unknown }).name) : '';
  if (source === 'screen') {
    if (name === 'NotAllowedError' || name === 'AbortError') return notice('screen-denied');
    if (name === 'NotSupportedError' || name === 'TypeError') return notice('screen-unsupported');
    return notice('analysis-failed', `Screen capture failed: ${messageOf(err)}`);
  }
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return notice('camera-denied');
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return notice('no-camera');
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return notice('camera-busy');
    default:
      return notice('camera-busy');
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The smallest module that uses a v128 instruction (from wasm-feature-detect): valid only with SIMD. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** What the browser lacks for the analysis to run, or null when it has everything. */
export function missingCapability(env: { WebAssembly?: typeof WebAssembly; Worker?: unknown; OffscreenCanvas?: unknown }): Notice | null {
  const wasm = env.WebAssembly;
  if (!wasm || typeof wasm.validate !== 'function') return notice('no-webassembly');
  let simd = false;
  try {
    simd = wasm.validate(SIMD_PROBE);
  } catch {
    simd = false;
  }
  if (!simd) return notice('no-simd');
  if (typeof env.Worker !== 'function' || typeof env.OffscreenCanvas !== 'function') return notice('no-worker');
  return null;
}
