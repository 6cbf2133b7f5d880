// The wasm ABI of slimwav: every exported kernel, nothing else. Pointers are byte offsets into the imported
// memory (0 = "absent" where a kernel allows it), sizes and strides are element counts (i32), data is f32.
// Each file's header gives the pointer layouts; each kernel's doc comment says what it computes. Backward kernels
// (the pruner's) sit in the file of their forward.
// The host's typed view of these exports, src/runtime/abi.gen.ts, is generated from the built module and these
// sources by scripts/gen-abi.js (run by `npm run build:wasm`): change a signature here and the TypeScript callers
// that no longer match fail to typecheck.
export { f32_gemm_packed, f32_gemm, f32_pack_b, f32_packed_floats, f32_pack_rows } from './gemm';
export { q8_gemm, q8_quantize_a, q8_levels, q8_packed_a_bytes, q8_tile_rows } from './q8gemm';
export { f32_attention, f32_attention_scratch_floats, f32_attn_logits, f32_attn_logits_backward, f32_softmax_rows,
  f32_softmax_rows_backward } from './attention';
export { f32_layernorm, f32_layernorm_backward, f32_groupnorm_time, f32_groupnorm_time_backward } from './norm';
export { f32_gelu, f32_gelu_backward, f32_exp, f32_erf } from './act';
export { f32_transpose, f32_copy2d, f32_fill, mem_prefault } from './copy';
export { f32_conv_k3s2, f32_conv_k3s2_scratch_floats, f32_col2im_add } from './conv';
export { f32_posconv_dft, f32_posconv_dft_scratch_floats, f32_cmix, f32_bias_gelu_add } from './posconv';
export { f32_colsum, f32_colsum_mul, f32_dot } from './reduce';
export { f32_mul_cols, f32_mul_cols_add, f32_add, f32_axpy, f32_adamw } from './elementwise';
export { f32_peak_madd, f32_peak_madd_acc } from './peak';
export { HEAP_BASE } from './meta';
