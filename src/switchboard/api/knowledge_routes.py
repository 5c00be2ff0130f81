"""``/v1/embeddings``, ``/v1/search`` and ``/v1/collections``: the knowledge base over HTTP
(uploads and their jobs: ``ingest_routes``).

Model work (embedding, search, ingestion) runs in the thread pool so the event loop keeps
streaming tokens meanwhile. The caller's tenant comes from ``request.state.tenant`` (set by
authentication) or the configured default tenant.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from switchboard.api.knowledge_schemas import (
    CollectionBody,
    CollectionList,
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    SearchHitBody,
    SearchRequestBody,
    SearchResponse,
)
from switchboard.api.openapi import error_responses
from switchboard.errors import (
    CollectionNotFoundError,
    DocumentNotFoundError,
    InvalidRequestError,
    ModelNotFoundError,
)
from switchboard.rag.embedder import SPECIAL_TOKENS
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef

router = APIRouter(prefix="/v1")
#: Mounted apart from the rest: embeddings need their own scope.
embeddings_router = APIRouter(prefix="/v1")


async def get_knowledge(request: Request) -> KnowledgeBase:
    knowledge: KnowledgeBase = request.app.state.knowledge
    return knowledge


async def get_tenant(request: Request) -> str:
    tenant = getattr(request.state, "tenant", None)
    return tenant or request.app.state.knowledge.settings.default_tenant


KnowledgeDep = Annotated[KnowledgeBase, Depends(get_knowledge)]
TenantDep = Annotated[str, Depends(get_tenant)]


def embedding_model_names(kb: KnowledgeBase) -> set[str]:
    return {kb.embedder.model_id, kb.embedder.model_id.lower()}


@embeddings_router.post("/embeddings", responses=error_responses(404))
async def create_embeddings(body: EmbeddingRequest, kb: KnowledgeDep) -> EmbeddingResponse:
    if body.model not in embedding_model_names(kb):
        raise ModelNotFoundError(body.model)
    if body.dimensions is not None and body.dimensions != kb.embedder.dim:
        raise InvalidRequestError(
            f"{kb.embedder.model_id} has {kb.embedder.dim} dimensions; it cannot be shortened",
            param="dimensions",
        )
    try:
        texts = body.texts()
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param="input") from None
    counts = await run_in_threadpool(_token_counts, kb, texts)  # 2048 long texts take a while
    limit = kb.embedder.max_tokens
    for i, count in enumerate(counts):
        if count > limit:
            raise InvalidRequestError(
                f"input[{i}] has {count} tokens; {kb.embedder.model_id} takes at most {limit}",
                param="input",
            )
    vectors = await run_in_threadpool(kb.embedder.embed, texts)
    data = [
        EmbeddingData(
            index=i,
            embedding=base64.b64encode(v.astype("<f4").tobytes()).decode()
            if body.encoding_format == "base64"
            else [float(x) for x in v],
        )
        for i, v in enumerate(vectors)
    ]
    tokens = sum(counts)
    return EmbeddingResponse(
        data=data,
        model=kb.embedder.model_id,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )


@router.post("/search", responses=error_responses(404))
async def search(body: SearchRequestBody, kb: KnowledgeDep, tenant: TenantDep) -> SearchResponse:
    ref = collection_ref(tenant, body.collection)
    if not body.query.strip():
        raise InvalidRequestError("query must not be blank", param="query")
    try:
        request = kb.request(
            body.query,
            mode=body.mode,
            top_k=body.top_k,
            rrf_k=body.rrf_k,
            weights=body.weights,
            filters=body.filters,
            rerank=body.rerank,
        )
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from None
    try:
        result = await run_in_threadpool(kb.retriever.search, ref, request)
    except ValueError as exc:  # e.g. a filter key the store refuses
        raise InvalidRequestError(str(exc), param="filters" if body.filters else None) from None
    return SearchResponse(
        data=[SearchHitBody(**h.to_json()) for h in result.hits],
        collection=body.collection,
        mode=request.mode,
        reranker=result.reranker,
        timings_ms={k: round(v, 3) for k, v in result.timings_ms.items()},
    )


@router.get("/collections")
async def list_collections(kb: KnowledgeDep, tenant: TenantDep) -> CollectionList:
    collection_ref(tenant, "collections")  # validates the tenant name
    infos = await run_in_threadpool(kb.store.list_collections, tenant)
    return CollectionList(
        data=[
            CollectionBody(
                name=i.ref.name,
                embedding_model=i.embedding_model,
                dim=i.dim,
                documents=i.documents,
                chunks=i.chunks,
            )
            for i in infos
        ]
    )


@router.delete(
    "/collections/{collection}/documents/{document_id:path}", responses=error_responses(404)
)
async def delete_document(
    collection: str, document_id: str, kb: KnowledgeDep, tenant: TenantDep
) -> dict[str, object]:
    ref = collection_ref(tenant, collection)
    if await run_in_threadpool(kb.store.get_collection, ref) is None:
        raise CollectionNotFoundError(collection)
    deleted = await run_in_threadpool(kb.store.delete_documents, ref, [document_id])
    if not deleted:
        raise DocumentNotFoundError(document_id, collection)
    return {"id": document_id, "object": "document", "deleted": True}


def _token_counts(kb: KnowledgeBase, texts: list[str]) -> list[int]:
    """Each text's tokens as the model sees them, [CLS] and [SEP] included."""
    return [kb.embedder.count_tokens(t) + SPECIAL_TOKENS for t in texts]


def collection_ref(tenant: str, collection: str) -> CollectionRef:
    try:
        return CollectionRef(tenant, collection)
    except ValueError as exc:
        param = "collection" if "collection" in str(exc) else None
        raise InvalidRequestError(str(exc), param=param) from None
