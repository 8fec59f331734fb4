// Generated from src/engine/op-codes.ts by `npm run gen:op-codes`; do not edit by hand.
// A test fails when this file and the TS table differ.
#pragma once

namespace lavit {

enum BinaryOp {
  ADD = 0,  // Add
  SUB = 1,  // Sub
  MUL = 2,  // Multiply
  DIV = 3,  // RealDiv
  MAXIMUM = 4,  // Maximum
  MINIMUM = 5,  // Minimum
  SQDIFF = 6,  // SquaredDifference
  POW = 7,  // Pow
};
#define LAVIT_BINARY_OPS(X) X(ADD) X(SUB) X(MUL) X(DIV) X(MAXIMUM) X(MINIMUM) X(SQDIFF) X(POW)

enum UnaryOp {
  EXP = 0,  // Exp
  LOG = 1,  // Log
  SQRT = 2,  // Sqrt
  RSQRT = 3,  // Rsqrt
  NEG = 4,  // Neg
  SIGMOID = 5,  // Sigmoid
  TANH = 6,  // Tanh
  SQUARE = 7,  // Square
  ABS = 8,  // Abs
  RELU = 9,  // Relu
  RECIPROCAL = 10,  // Reciprocal
  SOFTPLUS = 11,  // Softplus
  LOG1P = 12,  // Log1p
  EXPM1 = 13,  // Expm1
  SIGN = 14,  // Sign
  STEP = 15,  // Step
  RELU6 = 16,  // Relu6
  ELU = 17,  // Elu
  LEAKY = 18,  // LeakyRelu
};
#define LAVIT_UNARY_OPS(X) X(EXP) X(LOG) X(SQRT) X(RSQRT) X(NEG) X(SIGMOID) X(TANH) X(SQUARE) X(ABS) X(RELU) X(RECIPROCAL) X(SOFTPLUS) X(LOG1P) X(EXPM1) X(SIGN) X(STEP) X(RELU6) X(ELU) X(LEAKY)

enum ReduceOp {
  RSUM = 0,  // Sum
  RMAX = 1,  // Max
  RMIN = 2,  // Min
  RMEAN = 3,  // Mean
  RPROD = 4,  // Prod
};
#define LAVIT_REDUCE_OPS(X) X(RSUM) X(RMAX) X(RMIN) X(RMEAN) X(RPROD)

}  // namespace lavit
