// What chat.js uses of Ajv's browser bundle (ajv-dist's ajv2020.min.js, a plain script that
// defines window.ajv2020), for `tsc --checkJs`: ajv-dist ships no declarations of its own.

interface AjvError {
  instancePath: string;
  message?: string;
  params: {
    missingProperty?: string;
    additionalProperty?: string;
    unevaluatedProperty?: string;
  };
}

interface AjvValidate {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}

interface Ajv {
  addKeyword(keyword: string): Ajv;
  addSchema(schema: object, key: string): Ajv;
  getSchema(key: string): AjvValidate | undefined;
}

interface Window {
  ajv2020: new (options: Record<string, boolean>) => Ajv;
}
