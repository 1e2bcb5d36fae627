import { bulk } from './handlers/bulk.ts';
import { deleteDocument, documentExists, getDocument, getSource, indexDocument, updateDocument } from './handlers/documents.ts';
import { createIndex, deleteIndex, getIndex, getMapping, getSettings, indexExists, putMapping, refresh } from './handlers/indices.ts';
import { clusterHealth, info, ping } from './handlers/info.ts';
import { count, search } from './handlers/search.ts';
import { Router } from './router.ts';

/** The endpoint table. Literal paths come before `{index}` patterns so `/_bulk` is never read as an index. */
export function buildRouter(): Router {
  const putDoc = indexDocument('index');
  const createDoc = indexDocument('create');
  return new Router()
    .add('/', { GET: info, HEAD: ping })
    .add('/_cluster/health', { GET: clusterHealth })
    .add('/_bulk', { POST: bulk, PUT: bulk })
    .add('/_refresh', { GET: refresh, POST: refresh })
    .add('/_search', { GET: search, POST: search })
    .add('/_count', { GET: count, POST: count })
    .add('/_mapping', { GET: getMapping })
    .add('/{index}', { GET: getIndex, HEAD: indexExists, PUT: createIndex, DELETE: deleteIndex })
    .add('/{index}/_bulk', { POST: bulk, PUT: bulk })
    .add('/{index}/_refresh', { GET: refresh, POST: refresh })
    .add('/{index}/_search', { GET: search, POST: search })
    .add('/{index}/_count', { GET: count, POST: count })
    .add('/{index}/_mapping', { GET: getMapping, PUT: putMapping, POST: putMapping })
    .add('/{index}/_settings', { GET: getSettings })
    .add('/{index}/_doc', { POST: indexDocument('auto') })
    .add('/{index}/_doc/{id}', { GET: getDocument, HEAD: documentExists, PUT: putDoc, POST: putDoc, DELETE: deleteDocument })
    .add('/{index}/_create/{id}', { PUT: createDoc, POST: createDoc })
    .add('/{index}/_update/{id}', { POST: updateDocument })
    .add('/{index}/_source/{id}', { GET: getSource, HEAD: documentExists });
}
