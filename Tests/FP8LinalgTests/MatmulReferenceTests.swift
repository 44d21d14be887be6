import Testing
@testable import FP8Linalg
