-- 256-d embeddings (Intel's face-reidentification-retail-0095, packs yunet-reid256 and
-- yunet-reid256-int8) get their own partial HNSW index, like the 128-d and 512-d ones in
-- 20261124000200_face_tables.sql: an ANN index needs a fixed dimension, and nearest-neighbour
-- queries use exactly this expression and predicate so that PostgreSQL picks it. Comparisons
-- still filter on `model` (FP16 and INT8 embeddings are both 256-d but must not be mixed).
create index if not exists idx_faces_embedding_256 on public.faces
  using hnsw ((embedding::vector(256)) vector_cosine_ops) where (vector_dims(embedding) = 256);
