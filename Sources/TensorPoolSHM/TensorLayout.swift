public import TensorPoolWire

/// Eight `Int32` values stored inline (no heap), the `dims` or `strides` of a tensor header.
public struct DimensionArray: Hashable, Sendable, RandomAccessCollection, MutableCollection {
    @usableFromInline var storage: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32)

    /// Eight zeros.
    @inlinable
    public init() { storage = (0, 0, 0, 0, 0, 0, 0, 0) }

    /// The given values followed by zeros; `values` must hold at most eight entries.
    public init(_ values: some Collection<Int32>) {
        precondition(values.count <= ShmLayout.maxDims, "at most \(ShmLayout.maxDims) dimensions")
        self.init()
        for (index, value) in values.enumerated() { self[index] = value }
    }

    /// Always 0.
    @inlinable public var startIndex: Int { 0 }
    /// Always 8.
    @inlinable public var endIndex: Int { ShmLayout.maxDims }

    /// The value at `index` (0 ..< 8).
    @inlinable
    public subscript(index: Int) -> Int32 {
        get {
            precondition(index >= 0 && index < ShmLayout.maxDims, "dimension index out of range")
            return withUnsafeBytes(of: storage) { $0.load(fromByteOffset: index * 4, as: Int32.self) }
        }
        set {
            precondition(index >= 0 && index < ShmLayout.maxDims, "dimension index out of range")
            withUnsafeMutableBytes(of: &storage) {
                $0.storeBytes(of: newValue, toByteOffset: index * 4, as: Int32.self)
            }
        }
    }

    /// Equality of all eight values.
    @inlinable
    public static func == (lhs: Self, rhs: Self) -> Bool {
        let (l, r) = (lhs.storage, rhs.storage)
        return l.0 == r.0 && l.1 == r.1 && l.2 == r.2 && l.3 == r.3 && l.4 == r.4 && l.5 == r.5 && l.6 == r.6
            && l.7 == r.7
    }

    /// Hashes all eight values.
    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: storage) { hasher.combine(bytes: $0) }
    }
}

/// Why a `TensorHeader` is invalid (wire spec v1.2 §8.2, §15.8). Every consumer-side failure is a frame drop.
public enum TensorHeaderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `dtype` is `UNKNOWN` or a value this implementation does not know (§15.8).
    case unknownDtype(Int16)
    /// `major_order` is `UNKNOWN` or a value this implementation does not know.
    case unknownMajorOrder(Int16)
    /// `progress_unit` is a value this implementation does not know.
    case unknownProgressUnit(UInt8)
    /// `ndims` is 0 or larger than `MAX_DIMS`.
    case invalidRank(Int)
    /// `dims[index]` is negative.
    case negativeDimension(index: Int, value: Int32)
    /// `strides[index]` is negative (not supported in v1.2).
    case negativeStride(index: Int, value: Int32)
    /// `strides[index]` is smaller than the extent of the dimensions inside it: the layout overlaps or contradicts
    /// `major_order`.
    case overlappingStride(index: Int, stride: Int, required: Int)
    /// A producer-side header has a non-zero `dims`/`strides` entry at or beyond `ndims`.
    case nonZeroBeyondRank(index: Int)
    /// `progress_unit != NONE` but `progress_stride_bytes` is zero or differs from the stride the layout implies.
    case progressStrideMismatch(expected: Int, actual: UInt32)
    /// The layout's byte extent does not fit in 63 bits.
    case layoutOverflow

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .unknownDtype(let raw): "unknown or unset dtype \(raw)"
        case .unknownMajorOrder(let raw): "unknown or unset major order \(raw)"
        case .unknownProgressUnit(let raw): "unknown progress unit \(raw)"
        case .invalidRank(let ndims): "ndims \(ndims) outside 1...\(ShmLayout.maxDims)"
        case .negativeDimension(let index, let value): "dims[\(index)] = \(value) is negative"
        case .negativeStride(let index, let value): "strides[\(index)] = \(value) is negative"
        case .overlappingStride(let index, let stride, let required):
            "strides[\(index)] = \(stride) overlaps the inner dimensions (needs at least \(required))"
        case .nonZeroBeyondRank(let index): "dims/strides[\(index)] beyond ndims is not zero"
        case .progressStrideMismatch(let expected, let actual):
            "progress_stride_bytes \(actual) does not match the layout's stride \(expected)"
        case .layoutOverflow: "tensor layout extent overflows"
        }
    }
}

/// The type and shape of a frame's tensor: the contents of an embedded `TensorHeader` (wire spec v1.2 §8.2).
///
/// A stride of 0 means "contiguous, inferred from the shape and dtype". ``validate()`` applies every consumer rule;
/// ``resolvedStrides()`` gives the byte strides with the inferred ones filled in.
public struct TensorDescriptor: Hashable, Sendable {
    /// Element scalar type.
    public var dtype: WireSchema.Dtype
    /// Row- or column-major order.
    public var majorOrder: WireSchema.MajorOrder
    /// Number of dimensions in use (1...8 when valid).
    public var ndims: Int
    /// Extent of each dimension; entries at or beyond `ndims` are ignored and encoded as zero.
    public var dims: DimensionArray
    /// Byte step of each dimension, 0 meaning contiguous; entries at or beyond `ndims` are ignored and encoded as zero.
    public var strides: DimensionArray
    /// Axis along which partial fills may be reported.
    public var progressUnit: WireSchema.ProgressUnit
    /// Byte distance between adjacent rows or columns when `progressUnit != NONE`.
    public var progressStrideBytes: UInt32

    /// A descriptor of the given shape; `strides` empty means contiguous (all inferred). Throws when the result is
    /// not a valid header.
    public init(
        dtype: WireSchema.Dtype, shape: [Int], strides: [Int] = [], majorOrder: WireSchema.MajorOrder = .row,
        progressUnit: WireSchema.ProgressUnit = .noneValue, progressStrideBytes: UInt32 = 0
    ) throws(TensorHeaderError) {
        guard (1...ShmLayout.maxDims).contains(shape.count) else { throw .invalidRank(shape.count) }
        guard strides.isEmpty || strides.count == shape.count else { throw .invalidRank(strides.count) }
        var dims = DimensionArray()
        for (index, extent) in shape.enumerated() {
            guard let value = Int32(exactly: extent), value >= 0 else {
                throw .negativeDimension(index: index, value: Int32(clamping: extent))
            }
            dims[index] = value
        }
        var strideArray = DimensionArray()
        for (index, stride) in strides.enumerated() {
            guard let value = Int32(exactly: stride), value >= 0 else {
                throw .negativeStride(index: index, value: Int32(clamping: stride))
            }
            strideArray[index] = value
        }
        self.init(
            unvalidated: dtype, majorOrder: majorOrder, ndims: shape.count, dims: dims, strides: strideArray,
            progressUnit: progressUnit, progressStrideBytes: progressStrideBytes)
        try validate()
    }

    /// A descriptor holding exactly these field values, valid or not (for decoders and tests of validation).
    @inlinable
    public init(
        unvalidated dtype: WireSchema.Dtype, majorOrder: WireSchema.MajorOrder, ndims: Int, dims: DimensionArray,
        strides: DimensionArray, progressUnit: WireSchema.ProgressUnit, progressStrideBytes: UInt32
    ) {
        self.dtype = dtype
        self.majorOrder = majorOrder
        self.ndims = ndims
        self.dims = dims
        self.strides = strides
        self.progressUnit = progressUnit
        self.progressStrideBytes = progressStrideBytes
    }

    /// Reads every field of a decoded `TensorHeader` (no validation).
    @inlinable
    public init(_ decoder: WireSchema.TensorHeaderDecoder) {
        var dims = DimensionArray()
        var strides = DimensionArray()
        for index in 0..<ShmLayout.maxDims {
            dims[index] = decoder.dims(index)
            strides[index] = decoder.strides(index)
        }
        self.init(
            unvalidated: decoder.dtype, majorOrder: decoder.majorOrder, ndims: Int(decoder.ndims), dims: dims,
            strides: strides, progressUnit: decoder.progressUnit, progressStrideBytes: decoder.progressStrideBytes)
    }

    /// The shape as an array of `ndims` extents (allocates; for convenience off the hot path).
    public var shape: [Int] { (0..<max(0, min(ndims, ShmLayout.maxDims))).map { Int(dims[$0]) } }

    /// Size in bytes of one element of `dtype`, or 0 for `UNKNOWN` and unknown values. `BIT` and `BYTES` count as 1.
    @inlinable
    public static func elementSize(_ dtype: WireSchema.Dtype) -> Int {
        switch dtype.rawValue {
        case 1, 2, 11, 13, 14: 1
        case 3, 4: 2
        case 5, 6, 9: 4
        case 7, 8, 10: 8
        default: 0
        }
    }

    /// Applies every consumer rule of §8.2 and §15.8: known `dtype`, `major_order` and `progress_unit`, `ndims` in
    /// 1...8, no negative dims or strides, strides that neither overlap nor contradict the major order, and a
    /// progress stride that matches the layout. Entries beyond `ndims` are ignored (§8.2, WIRE-8.2-018).
    @inlinable
    public func validate() throws(TensorHeaderError) {
        _ = try resolvedStrides()
    }

    /// Like ``validate()``, and additionally requires zeros beyond `ndims`, as a producer must write (WIRE-8.2-017).
    public func validateForProducer() throws(TensorHeaderError) {
        try validate()
        for index in ndims..<ShmLayout.maxDims where dims[index] != 0 || strides[index] != 0 {
            throw .nonZeroBeyondRank(index: index)
        }
    }

    /// An all-zero descriptor (not valid: `ndims` 0), a placeholder.
    @inlinable
    public static var zero: TensorDescriptor {
        TensorDescriptor(
            unvalidated: WireSchema.Dtype(rawValue: 0), majorOrder: WireSchema.MajorOrder(rawValue: 0), ndims: 0,
            dims: DimensionArray(), strides: DimensionArray(), progressUnit: .noneValue, progressStrideBytes: 0)
    }

    /// The byte strides with every 0 replaced by the contiguous value, after validating the header.
    @inlinable
    public func resolvedStrides() throws(TensorHeaderError) -> DimensionArray64 {
        let elementSize = Self.elementSize(dtype)
        guard dtype.isKnown, elementSize > 0 else { throw .unknownDtype(dtype.rawValue) }
        guard majorOrder == .row || majorOrder == .column else { throw .unknownMajorOrder(majorOrder.rawValue) }
        guard progressUnit.isKnown else { throw .unknownProgressUnit(progressUnit.rawValue) }
        guard ndims >= 1 && ndims <= ShmLayout.maxDims else { throw .invalidRank(ndims) }
        var resolved = DimensionArray64()
        for index in 0..<ndims {
            guard dims[index] >= 0 else { throw .negativeDimension(index: index, value: dims[index]) }
            guard strides[index] >= 0 else { throw .negativeStride(index: index, value: strides[index]) }
        }
        // Walk from the innermost dimension outwards: the innermost is the last for row-major, the first for column.
        let row = majorOrder == .row
        var required = elementSize
        for step in 0..<ndims {
            let index = row ? ndims - 1 - step : step
            let declared = Int(strides[index])
            let stride = declared == 0 ? required : declared
            guard stride >= required else { throw .overlappingStride(index: index, stride: stride, required: required) }
            resolved[index] = stride
            let (next, overflow) = stride.multipliedReportingOverflow(by: max(Int(dims[index]), 1))
            guard !overflow else { throw .layoutOverflow }
            required = next
        }
        if progressUnit != .noneValue {
            let axis = progressUnit == .rows ? 0 : 1
            let expected = axis < ndims ? resolved[axis] : 0
            guard expected > 0, Int(progressStrideBytes) == expected else {
                throw .progressStrideMismatch(expected: expected, actual: progressStrideBytes)
            }
        }
        return resolved
    }

    /// Bytes spanned by the validated layout: the largest element offset plus one element (0 for an empty tensor).
    public func extentBytes() throws(TensorHeaderError) -> Int {
        let resolved = try resolvedStrides()
        var last = 0
        for index in 0..<ndims {
            if dims[index] == 0 { return 0 }
            let (term, overflow) = resolved[index].multipliedReportingOverflow(by: Int(dims[index]) - 1)
            guard !overflow else { throw .layoutOverflow }
            let (sum, overflow2) = last.addingReportingOverflow(term)
            guard !overflow2 else { throw .layoutOverflow }
            last = sum
        }
        return last + Self.elementSize(dtype)
    }

    /// Writes every field into `encoder`, zeroing `dims`/`strides` at and beyond `ndims` and the reserved padding.
    @inlinable
    public func encode(into encoder: WireSchema.TensorHeaderEncoder) {
        encoder.dtype = dtype
        encoder.majorOrder = majorOrder
        encoder.ndims = UInt8(clamping: ndims)
        encoder.padAlign = 0
        encoder.progressUnit = progressUnit
        encoder.progressStrideBytes = progressStrideBytes
        for index in 0..<ShmLayout.maxDims {
            let used = index < ndims
            encoder.setDims(index, used ? dims[index] : 0)
            encoder.setStrides(index, used ? strides[index] : 0)
        }
        encoder.padBytes.initializeMemory(as: UInt8.self, repeating: 0)
    }
}

/// Eight `Int` values stored inline: resolved byte strides.
public struct DimensionArray64: Hashable, Sendable {
    @usableFromInline var storage: (Int, Int, Int, Int, Int, Int, Int, Int)

    /// Eight zeros.
    @inlinable
    public init() { storage = (0, 0, 0, 0, 0, 0, 0, 0) }

    /// The value at `index` (0 ..< 8).
    @inlinable
    public subscript(index: Int) -> Int {
        get {
            precondition(index >= 0 && index < ShmLayout.maxDims, "dimension index out of range")
            return withUnsafeBytes(of: storage) { $0.load(fromByteOffset: index * 8, as: Int.self) }
        }
        set {
            precondition(index >= 0 && index < ShmLayout.maxDims, "dimension index out of range")
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: index * 8, as: Int.self) }
        }
    }

    /// Equality of all eight values.
    @inlinable
    public static func == (lhs: Self, rhs: Self) -> Bool {
        let (l, r) = (lhs.storage, rhs.storage)
        return l.0 == r.0 && l.1 == r.1 && l.2 == r.2 && l.3 == r.3 && l.4 == r.4 && l.5 == r.5 && l.6 == r.6
            && l.7 == r.7
    }

    /// Hashes all eight values.
    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: storage) { hasher.combine(bytes: $0) }
    }
}
