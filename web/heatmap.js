// A hidden state [frames × dim] as a heat map on a canvas: one pixel per (frame, channel), time to the right,
// channels down, coloured by value / the state's standard deviation (blue −3 … white 0 … red +3).
export function drawHeatmap(canvas, data, frames, dim) {
  canvas.width = frames;
  canvas.height = dim;
  let sum = 0, sq = 0;
  for (let i = 0; i < data.length; i++) { sum += data[i]; sq += data[i] * data[i]; }
  const mean = sum / data.length;
  const std = Math.sqrt(Math.max(1e-12, sq / data.length - mean * mean));
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(frames, dim);
  const px = img.data;
  for (let t = 0; t < frames; t++) {
    for (let c = 0; c < dim; c++) {
      const z = Math.max(-1, Math.min(1, (data[t * dim + c] - mean) / std / 3));
      const o = (c * frames + t) * 4;
      // white → red for z > 0, white → blue for z < 0
      px[o] = z > 0 ? 255 : Math.round(255 * (1 + z) + 40 * -z);
      px[o + 1] = Math.round(255 * (1 - Math.abs(z)) + 60 * Math.abs(z));
      px[o + 2] = z < 0 ? 255 - Math.round(40 * -z) : Math.round(255 * (1 - z) + 40 * z);
      px[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}
