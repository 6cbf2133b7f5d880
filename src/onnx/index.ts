/** ONNX export (Node): exportOnnx builds the graph in memory, exportOnnxFile goes from a model path to a file. */
export { exportOnnx, OPSET_MIN, OPSET_MAX, ONNX_DTYPES } from './export.js';
export type { OnnxExport, OnnxExportOptions, OnnxDtype } from './export.js';
export { deviation, type Deviation } from './deviation.js';
export { exportOnnxFile } from './file.js';
export type { ExportOnnxFileOptions } from './file.js';
