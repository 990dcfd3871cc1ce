#include "ui/widgets/application.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QMessageBox>
#include <QPalette>
#include <QSocketNotifier>
#include <QStyleFactory>

#include <clocale>
#include <exception>

#include "core/log.h"

namespace tessera::ui {

WorkstationApplication::WorkstationApplication(int& argc, char** argv) : QApplication(argc, argv) {
  setOrganizationName("Tessera");
  setApplicationName("Workstation");
  std::setlocale(LC_NUMERIC, "C");
}

namespace {

int terminationPipe[2] = {-1, -1};
std::function<void()>* terminationCallback = nullptr;

void onSigterm(int) {
  const char byte = 1;
  [[maybe_unused]] const ssize_t written = ::write(terminationPipe[1], &byte, 1);
}

}  // namespace

void installTerminationHandler(std::function<void()> onTerminate) {
  if (!terminationCallback) {
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, terminationPipe) != 0) {
      logError("cannot watch for SIGTERM: socketpair failed");
      return;
    }
    terminationCallback = new std::function<void()>();
    auto* notifier = new QSocketNotifier(terminationPipe[0], QSocketNotifier::Read, qApp);
    QObject::connect(notifier, &QSocketNotifier::activated, qApp, [notifier] {
      notifier->setEnabled(false);
      char byte = 0;
      [[maybe_unused]] const ssize_t got = ::read(terminationPipe[0], &byte, 1);
      if (*terminationCallback) (*terminationCallback)();
      notifier->setEnabled(true);
    });
    struct sigaction action {};
    action.sa_handler = onSigterm;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, nullptr);
  }
  *terminationCallback = std::move(onTerminate);
}

bool WorkstationApplication::notify(QObject* receiver, QEvent* event) {
  try {
    return QApplication::notify(receiver, event);
  } catch (const std::bad_alloc&) {
    logError("out of memory while handling an event");
    QMessageBox::critical(nullptr, "Out of memory",
                          "Tessera ran out of memory. Your open study is unchanged; close other "
                          "programs or open a smaller study.");
  } catch (const std::exception& e) {
    logError("unexpected error while handling an event: ", e.what());
    QMessageBox::critical(nullptr, "Unexpected error", QString::fromUtf8(e.what()));
  } catch (...) {
    logError("unexpected error while handling an event");
  }
  return false;
}

void applyDarkTheme(QApplication& app) {
  app.setStyle(QStyleFactory::create("Fusion"));
  QPalette p;
  const QColor window(37, 39, 44), base(26, 27, 31), text(220, 222, 226), accent(70, 130, 200);
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, QColor(33, 35, 40));
  p.setColor(QPalette::ToolTipBase, QColor(50, 52, 58));
  p.setColor(QPalette::ToolTipText, text);
  p.setColor(QPalette::PlaceholderText, QColor(120, 124, 132));
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, QColor(48, 50, 56));
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::BrightText, Qt::red);
  p.setColor(QPalette::Highlight, accent);
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::Link, accent.lighter(130));
  p.setColor(QPalette::Disabled, QPalette::Text, QColor(110, 112, 118));
  p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(110, 112, 118));
  p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(110, 112, 118));
  app.setPalette(p);
  app.setStyleSheet(
      "QToolBar { spacing: 4px; padding: 2px; border: none; }"
      "QToolBar QToolButton { padding: 3px 8px; border-radius: 3px; }"
      "QToolBar QToolButton:checked { background: #3d5f8a; }"
      "QDockWidget::title { padding: 4px 6px; background: #2c2e34; }"
      "QStatusBar QLabel { padding: 0 6px; }");
}

}  // namespace tessera::ui
