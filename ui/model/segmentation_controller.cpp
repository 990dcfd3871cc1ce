#include "ui/model/segmentation_controller.h"

#include <algorithm>
#include <exception>

namespace tessera::ui {

class SegmentationController::Sink : public ProgressSink {
 public:
  explicit Sink(SegmentationController* owner) : owner_(owner) {}
  void update(const ProgressUpdate& update) override {
    owner_->post([update](SegmentationEvents& events) { events.progress = update; });
  }

 private:
  SegmentationController* owner_;
};

SegmentationController::SegmentationController(std::function<void()> wake)
    : wake_(std::move(wake)) {}

SegmentationController::~SegmentationController() {
  cancel();
  if (worker_.joinable()) worker_.join();
}

Status SegmentationController::start(std::shared_ptr<const Volume> ct, SegmentationJob job) {
  if (!ct || ct->empty()) return Status(StatusCode::kInvalidArgument, "No CT is open.");
  if (!job) return Status(StatusCode::kInvalidArgument, "No segmentation model is selected.");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (busy_) return Status(StatusCode::kInvalidArgument, "A segmentation is already running.");
    busy_ = true;
    threadEnded_ = false;
    pending_ = SegmentationEvents{};
    wakePending_ = false;
  }
  if (worker_.joinable()) worker_.join();
  cancel_ = CancelToken();
  worker_ = std::thread([this, ct = std::move(ct), job = std::move(job), cancel = cancel_]() {
    Sink sink(this);
    SliceCallback onSlice = [this](const SlicePlacement& where, const std::uint8_t* labels) {
      FinishedSlice slice{where, std::vector<std::uint8_t>(
                                     labels, labels + std::max<std::int64_t>(where.count(), 0))};
      post([&slice](SegmentationEvents& events) { events.slices.push_back(std::move(slice)); });
    };
    std::optional<Result<SegmentationOutput>> result;
    try {
      result.emplace(job(*ct, &sink, cancel, onSlice));
    } catch (const std::exception& e) {
      result.emplace(
          Error{StatusCode::kInternal, std::string("segmentation failed: ") + e.what(), {}});
    } catch (...) {
      result.emplace(Error{StatusCode::kInternal, "segmentation failed with an unknown error", {}});
    }
    if (result->ok() && cancel.cancelled())
      result.emplace(Error{StatusCode::kCancelled, "cancelled by the user", {}});
    post([&result](SegmentationEvents& events) { events.result = std::move(*result); });
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threadEnded_ = true;
    }
    ended_.notify_all();
  });
  return Status();
}

void SegmentationController::cancel() {
  cancel_.cancel();
}

bool SegmentationController::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return busy_;
}

void SegmentationController::post(std::function<void(SegmentationEvents&)> change) {
  bool callWake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    change(pending_);
    if (!wakePending_) {
      wakePending_ = true;
      callWake = true;
    }
  }
  if (callWake && wake_) wake_();
}

SegmentationEvents SegmentationController::poll() {
  std::lock_guard<std::mutex> lock(mutex_);
  SegmentationEvents out = std::move(pending_);
  pending_ = SegmentationEvents{};
  wakePending_ = false;
  if (out.result) busy_ = false;
  return out;
}

void SegmentationController::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  ended_.wait(lock, [this] { return threadEnded_; });
}

}  // namespace tessera::ui
