/// How a bulk prediction runs (see Client.predictMany).
public struct BulkOptions: Sendable {
    /// Inputs per request: 1 to 128.
    public var batchSize: Int
    /// Requests in flight at once.
    public var concurrency: Int
    /// Requests per second at most; nil: no limit (until the server throttles).
    public var rate: Double?

    public static let defaultBatchSize = 32
    public static let defaultConcurrency = 8
    public static let maximumConcurrency = 1024

    public init(batchSize: Int, concurrency: Int, rate: Double?) throws {
        guard (1...Client.maximumInputsPerRequest).contains(batchSize) else {
            throw ClarifaiError.invalidArgument("batch_size must be 1 to \(Client.maximumInputsPerRequest), got \(batchSize)")
        }
        guard (1...BulkOptions.maximumConcurrency).contains(concurrency) else {
            throw ClarifaiError.invalidArgument("concurrency must be 1 to \(BulkOptions.maximumConcurrency), got \(concurrency)")
        }
        if let rate, !(rate > 0 && rate.isFinite) {
            throw ClarifaiError.invalidArgument("rate must be a positive number of requests per second (or 0: no limit), got \(rate)")
        }
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.rate = rate
    }
}

/// Where a bulk prediction stands, after each request that ended.
public struct BulkProgress: Sendable {
    /// Inputs taken from the caller, reported (successes and failures), reported as failed.
    public var supplied = 0, done = 0, failed = 0
    /// Inputs supplied and not reported yet: in requests in flight, or waiting to be sent.
    public var inFlight = 0
    /// Inputs reported per second since the start.
    public var rate = 0.0
}

/// A token bucket of one token (requests evenly spaced, never a burst: a server counting its limit
/// over any second sees at most that many) whose rate halves when the server throttles, at most
/// once a second, and grows back by one request per second each second, up to the limit.
struct AdaptiveRate {
    let limit: Double?
    /// The rate in force; nil: no limit.
    private(set) var current: Double?
    private var nextStart = 0.0
    private var lastDecrease = -Double.infinity
    /// Start times of the last second's requests: the rate to halve when there is no limit yet.
    private var recentStarts: [Double] = []

    init(limit: Double?) {
        self.limit = limit
        current = limit
    }

    /// Milliseconds until the next request may start (0: now).
    func wait(now: Double) -> Double { current == nil ? 0 : max(0, nextStart - now) }

    mutating func started(now: Double) {
        if let current { nextStart = max(nextStart, now) + 1000 / current }
        recentStarts.append(now)
        recentStarts.removeAll { $0 < now - 1000 }
    }

    mutating func throttled(now: Double) {
        guard now - lastDecrease >= 1000 else { return }
        lastDecrease = now
        recentStarts.removeAll { $0 < now - 1000 }
        let base = current ?? Double(max(1, recentStarts.count))
        current = max(0.5, base / 2)
        Log.debug("predict_many: throttled by the server; \(current!) requests/s from now on")
    }

    mutating func succeeded(now: Double) {
        guard let rate = current, rate < (limit ?? .infinity), now - lastDecrease >= 1000 else { return }
        // One more request per second each second: 1/rate per request at `rate` requests a second.
        let grown = rate + 1 / rate
        current = limit.map { min($0, grown) } ?? grown
    }
}

/// The inputs of one request of a bulk prediction.
private final class BulkBatch: @unchecked Sendable {
    /// The caller's numbering of the inputs (the order they were supplied).
    var indices: [Int] = []
    var inputIDs: [String?] = []
    var message: [UInt8]
    /// Sends after a throttled answer (not retries: the rate adapts), and after other transient failures.
    var throttledSends = 0
    var retries = 0
    /// When it may be sent again (monotonicMilliseconds()).
    var due = 0.0

    init(header: [UInt8]) { message = header }
}

extension Client {
    /// Sends after CONN_THROTTLED before an input is reported as throttled.
    static let maximumThrottledSends = 100
    /// Bytes of inputs in one request at most: the API takes requests of up to 128 MB.
    static let maximumBatchBytes = 120 << 20

    /// Runs a model over every input `nextInput` supplies (nil: no more; a failure: an input that
    /// could not be read, reported as its outcome), in requests of
    /// `options.batchSize` inputs, `options.concurrency` at a time, at most `options.rate` a second.
    /// Each input's outcome goes to `onResult` with its number (0-based, in supply order): a
    /// response holding that input's output alone (its status the output's), or the failure of the
    /// input or of its request. Everything runs on the calling thread, which waits meanwhile; at most
    /// concurrency x batchSize inputs are held. Throttled requests are sent again more slowly;
    /// other transient failures are retried up to the client's retry budget. Returns when every
    /// input was reported; throws .cancelled when `nextInput` or `onResult` asked to stop (false).
    public func predictMany(modelID: String, versionID: String?, options: BulkOptions,
                            nextInput: () throws -> Result<PredictionInput, ClarifaiError>?,
                            onResult: (Int, Result<Response, ClarifaiError>) -> Bool,
                            onProgress: ((BulkProgress) -> Void)?) throws {
        guard !modelID.isEmpty else { throw ClarifaiError.invalidArgument("model_id is empty") }
        let method = try unaryMethod(named: "PostModelOutputs")
        let fields = try PredictionSchema.of(schema)
        var header = WireWriter()
        header.string(fields.modelID, modelID)
        if let versionID, !versionID.isEmpty { header.string(fields.versionID, versionID) }

        let queue = try CompletionQueue()
        defer { queue.shutDown() }
        let started = monotonicMilliseconds()
        var limiter = AdaptiveRate(limit: options.rate)
        var progress = BulkProgress()
        var inputsEnded = false
        var inFlight: [Int: BulkBatch] = [:]
        var waiting: [BulkBatch] = []  // to send again, by due time
        var nextTag = 1
        /// An encoded input that did not fit the last batch: the first of the next.
        var carried: (index: Int, id: String?, bytes: [UInt8])?
        /// The next batch of new inputs, made before its rate slot comes (so that the end of the
        /// inputs is known as soon as the last answer is).
        var ready: BulkBatch?

        func stop(_ reason: String) -> ClarifaiError {
            ClarifaiError(.cancelled, "predict_many: \(reason) after \(progress.done) of \(progress.supplied) inputs")
        }
        func report(_ index: Int, _ outcome: Result<Response, ClarifaiError>) throws {
            progress.done += 1
            if case .failure = outcome { progress.failed += 1 }
            guard onResult(index, outcome) else { throw stop("stopped by the result callback") }
        }
        /// The next batch of new inputs; nil when there are none left.
        func nextBatch() throws -> BulkBatch? {
            let batch = BulkBatch(header: header.bytes)
            if let first = carried {
                batch.indices.append(first.index)
                batch.inputIDs.append(first.id)
                batch.message += first.bytes
                carried = nil
            }
            while !inputsEnded && batch.indices.count < options.batchSize {
                guard let supplied = try nextInput() else {
                    inputsEnded = true
                    break
                }
                let index = progress.supplied
                progress.supplied += 1
                var encoded = WireWriter(capacity: 128)
                let input: PredictionInput
                do {
                    input = try supplied.get()
                    try input.write(to: &encoded, field: fields.inputs, schema: fields, position: index)
                    guard encoded.count <= Client.maximumBatchBytes else {
                        throw ClarifaiError.invalidArgument("inputs[\(index)] is \(encoded.count) bytes, over the API's request size")
                    }
                } catch let error as ClarifaiError {
                    try report(index, .failure(error))
                    continue
                }
                if batch.message.count + encoded.count > Client.maximumBatchBytes && !batch.indices.isEmpty {
                    carried = (index, input.id, encoded.bytes)
                    break
                }
                batch.indices.append(index)
                batch.inputIDs.append(input.id)
                batch.message += encoded.bytes
            }
            return batch.indices.isEmpty ? nil : batch
        }
        func send(_ batch: BulkBatch) throws {
            let tag = nextTag
            nextTag += 1
            limiter.started(now: monotonicMilliseconds())
            try startAsync(method, message: batch.message, queue: queue, tag: UnsafeMutableRawPointer(bitPattern: tag),
                           maxRetries: 0)
            inFlight[tag] = batch
        }
        func sendAgain(_ batch: BulkBatch, after pause: Double) {
            batch.due = monotonicMilliseconds() + pause
            let position = waiting.firstIndex { $0.due > batch.due } ?? waiting.endIndex
            waiting.insert(batch, at: position)
        }
        func finished(_ batch: BulkBatch, _ outcome: Result<Response, ClarifaiError>) throws {
            let now = monotonicMilliseconds()
            let answer: Response? = switch outcome {
            case .success(let response): response
            case .failure(let error): error.response
            }
            if let answer, answer.statusCode == retryPolicy.throttledStatus,
               batch.throttledSends < Client.maximumThrottledSends {
                limiter.throttled(now: now)
                batch.throttledSends += 1
                return sendAgain(batch, after: 0)
            }
            if case .failure(let error) = outcome, retryPolicy.isRetried(error), error.response?.statusCode != retryPolicy.throttledStatus,
               batch.retries < maxRetries {
                batch.retries += 1
                return sendAgain(batch, after: RetryPolicy.pause(beforeRetry: batch.retries))
            }
            if case .success = outcome { limiter.succeeded(now: now) }
            for (position, index) in batch.indices.enumerated() {
                try report(index, Client.outcome(of: position, in: outcome, inputCount: batch.indices.count, method: method))
            }
        }

        while true {
            // Start what may start: batches due again first, then new ones.
            while inFlight.count < options.concurrency {
                let now = monotonicMilliseconds()
                let due = waiting.first.map { $0.due <= now } ?? false
                if !due && ready == nil && (!inputsEnded || carried != nil) { ready = try nextBatch() }
                guard due || ready != nil, limiter.wait(now: now) == 0 else { break }
                if due {
                    try send(waiting.removeFirst())
                } else if let batch = ready {
                    ready = nil
                    try send(batch)
                }
            }
            if inFlight.isEmpty && waiting.isEmpty && ready == nil && inputsEnded && carried == nil { break }
            // Wait for an answer, or until the next request may start: a new batch at the rate's
            // next slot, a batch to send again at its due time or that slot, whichever is later.
            let now = monotonicMilliseconds()
            var timeout: Double?
            if inFlight.count < options.concurrency {
                let slot = limiter.wait(now: now)
                if ready != nil { timeout = slot }
                if let due = waiting.first?.due { timeout = min(timeout ?? .infinity, max(slot, due - now)) }
            }
            // (A tiny rate makes a wait longer than any Int: capped as every time setting is.)
            let longest = Double(ChannelOptions.longestTimeMilliseconds)
            let milliseconds = timeout.map { Int(min($0, longest).rounded(.up)) } ?? (inFlight.isEmpty ? 0 : -1)
            guard let completion = try queue.next(timeoutMilliseconds: milliseconds),
                  let tag = completion.tag.map({ Int(bitPattern: $0) }), let batch = inFlight.removeValue(forKey: tag) else { continue }
            try finished(batch, completion.outcome)
            progress.inFlight = progress.supplied - progress.done
            progress.rate = Double(progress.done) * 1000 / max(1, monotonicMilliseconds() - started)
            onProgress?(progress)
        }
        progress.inFlight = 0
        progress.rate = Double(progress.done) * 1000 / max(1, monotonicMilliseconds() - started)
        onProgress?(progress)
    }

    /// The outcome of input `position` of a request: its own output (as a response of one output,
    /// whose status is the output's), or the request's failure.
    private static func outcome(of position: Int, in request: Result<Response, ClarifaiError>, inputCount: Int,
                                method: Method) -> Result<Response, ClarifaiError> {
        let answer: Response
        switch request {
        case .success(let response): answer = response
        case .failure(let error):
            guard let response = error.response else { return .failure(error) }
            answer = response
        }
        do {
            let single = try answer.singleOutput(answer.messageOutputCount() == inputCount ? position : nil)
            return single.isSuccess ? .success(single) : .failure(ClarifaiError(apiFailure: single, method: method.name))
        } catch let error as ClarifaiError {
            return .failure(error)
        } catch {
            return .failure(ClarifaiError(.internal, "\(error)"))
        }
    }
}
