// The wasm ABI of slimwav: every exported kernel, nothing else. Pointers are byte offsets into the imported
// memory (0 = "absent" where a kernel allows it), sizes and strides are element counts (i32), data is f32.
// Each file's header gives the pointer layouts.
export { f32_gemm_packed, f32_gemm, f32_pack_b, f32_packed_floats } from './gemm';
export { f32_attention, f32_attention_scratch_floats } from './attention';
export { f32_layernorm, f32_groupnorm_time } from './norm';
export { f32_gelu, f32_exp, f32_erf } from './act';
export { f32_transpose, f32_copy2d, f32_fill } from './copy';
export { f32_conv_k3s2, f32_conv_k3s2_scratch_floats } from './conv';
export { f32_posconv_dft, f32_posconv_dft_scratch_floats, f32_cmix, f32_bias_gelu_add } from './posconv';
export { HEAP_BASE } from './meta';
export { f32_peak_madd, f32_peak_madd_acc } from './peak';
export { f32_softmax_rows, f32_softmax_rows_backward, f32_attn_logits, f32_attn_logits_backward, f32_gelu_backward,
  f32_layernorm_backward, f32_groupnorm_time_backward, f32_colsum, f32_colsum_mul, f32_mul_cols, f32_mul_cols_add,
  f32_add, f32_axpy, f32_dot, f32_adamw, f32_col2im_add, f32_pack_rows } from './train';
