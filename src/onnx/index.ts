/** ONNX export (Node): exportOnnx builds the graph in memory, exportOnnxFile goes from a model path to a file. */
export { exportOnnx, OPSET_MIN, OPSET_MAX } from './export.js';
export type { OnnxExport, OnnxExportOptions } from './export.js';
export { exportOnnxFile } from './file.js';
export type { ExportOnnxFileOptions } from './file.js';
