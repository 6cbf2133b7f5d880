/**
 * The part of the ONNX protobuf schema (onnx.proto, IR version 8–10) that an inference graph with inline
 * initializers needs, declared as a protobufjs JSON descriptor so that no generated code or .proto file ships.
 * Field numbers and enum values are the ones onnx.proto fixes; anything not listed here is never written.
 */
import protobuf from 'protobufjs';

/** TensorProto.DataType values used by the exporter */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

/** AttributeProto.AttributeType values used by the exporter */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

const descriptor: protobuf.INamespace = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            docString: { type: 'string', id: 12 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dimension', id: 1 },
          },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: {
                dimValue: { type: 'int64', id: 1 },
                dimParam: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: {
            tensorType: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
      },
    },
  },
};

let root: protobuf.Root | null = null;

/** The onnx.* message types (built once). */
export function onnxTypes(): { ModelProto: protobuf.Type } {
  root ??= protobuf.Root.fromJSON(descriptor);
  return { ModelProto: root.lookupType('onnx.ModelProto') };
}

// ---- plain-object shapes of the messages (what the exporter builds; protobufjs encodes them as they are)

export interface TensorMsg { name: string; dims: number[]; dataType: number; rawData: Uint8Array }
export interface AttributeMsg { name: string; type: number; f?: number; i?: number; s?: Uint8Array; t?: TensorMsg; floats?: number[]; ints?: number[] }
export interface NodeMsg { input: string[]; output: string[]; name: string; opType: string; attribute: AttributeMsg[]; domain?: string }
export interface DimMsg { dimValue?: number; dimParam?: string }
export interface ValueInfoMsg { name: string; type: { tensorType: { elemType: number; shape: { dim: DimMsg[] } } }; docString?: string }
export interface GraphMsg { node: NodeMsg[]; name: string; initializer: TensorMsg[]; input: ValueInfoMsg[]; output: ValueInfoMsg[]; docString?: string }
export interface ModelMsg {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  graph: GraphMsg;
  opsetImport: { domain: string; version: number }[];
  metadataProps: { key: string; value: string }[];
  docString?: string;
}

/** Serialise a model message to protobuf bytes. */
export function encodeModel(model: ModelMsg): Uint8Array {
  const { ModelProto } = onnxTypes();
  return ModelProto.encode(model as unknown as Record<string, unknown>).finish();
}

/** Parse protobuf bytes back into a plain object (tests and inspection). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const { ModelProto } = onnxTypes();
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array }) as Record<string, unknown>;
}
