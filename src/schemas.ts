import { Type, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';

/**
 * An object that rejects unknown fields: with Ajv's removeAdditional off, a misspelt field is an
 * error naming it, never silently dropped.
 */
export function StrictObject<Properties extends TProperties>(
  properties: Properties,
  options: { description?: string; $id?: string } = {},
): TObject<Properties> {
  return Type.Object(properties, { ...options, additionalProperties: false });
}

/** A field that may be `null`, said so in the schema and the OpenAPI document. */
export function Nullable<Schema extends TSchema>(schema: Schema) {
  return Type.Union([schema, Type.Null()]);
}

export const Timestamp = Type.String({ format: 'date-time', description: 'UTC, ISO-8601' });
export const Id = Type.String({ format: 'uuid' });
export const IdParams = StrictObject({ id: Id });

export const PageQuery = StrictObject({
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});

export function PageOf<Item extends TSchema>(item: Item) {
  return StrictObject({ items: Type.Array(item), total: Type.Integer({ minimum: 0 }) });
}

export const ErrorBody = StrictObject({
  error: StrictObject({
    code: Type.String({ description: 'SCREAMING_SNAKE error code' }),
    message: Type.String(),
    fields: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'field path, such as smtp.port → message' }),
    ),
  }),
});

/** A raw message as received, served as message/rfc822. */
export const RawMessage = Type.Unsafe<Buffer>({
  type: 'string',
  format: 'binary',
  description: 'message/rfc822',
});
