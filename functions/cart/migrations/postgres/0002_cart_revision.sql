-- Every change to a cart counts up its revision; with the cart's id (new for
-- every cart) it makes the cart's version, which a checkout claims so that one
-- version of a cart becomes at most one order.
ALTER TABLE carts ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
