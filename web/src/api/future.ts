// Routes the pages already use but this server may not have yet: they are being built in parallel
// (operations: acknowledging alerts; payments: the purchases list; emergency pauses). Each call site
// treats a "no route" 404 as "not available on this server". When a route lands in /openapi.json,
// delete it here and call it through the generated client instead.
export interface FuturePaths {
  '/v1/admin/alerts/{id}/ack': {
    post: {
      parameters: { path: { id: string } };
      responses: { 200: { content: { 'application/json': Record<string, unknown> } } };
    };
  };
  '/v1/admin/purchases': {
    get: {
      parameters: { query?: { limit?: number } };
      responses: {
        200: {
          content: {
            'application/json': {
              purchases: {
                id: string;
                userId: string;
                packageId: string;
                credits: number;
                amount: number;
                currency: string;
                status: string;
                createdAt: string;
              }[];
            };
          };
        };
      };
    };
  };
}
