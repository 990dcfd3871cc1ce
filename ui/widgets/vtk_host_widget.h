// Hosts VTK rendering in a Qt 6 widget. Debian's VTK Qt module is built
// against Qt 5, so instead of QVTKOpenGLNativeWidget this QOpenGLWidget owns
// a vtkGenericOpenGLRenderWindow that renders into the widget's framebuffer
// with the widget's OpenGL context (docs/ARCHITECTURE.md, "Workstation").
#pragma once

#include <QOpenGLWidget>
#include <QSurfaceFormat>

#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkSmartPointer.h>

namespace tessera::ui {

class VtkHostWidget : public QOpenGLWidget {
  Q_OBJECT

 public:
  explicit VtkHostWidget(QWidget* parent = nullptr);
  ~VtkHostWidget() override;

  vtkGenericOpenGLRenderWindow* renderWindow() const { return window_; }
  // OpenGL 3.2 core, depth 24, stencil 8: what VTK's OpenGL2 backend needs.
  // Call before creating the QApplication so every context agrees.
  static QSurfaceFormat surfaceFormat();
  static void setDefaultSurfaceFormat();
  // True once VTK initialised its OpenGL state in this widget's context.
  bool glReady() const { return glReady_; }

 protected:
  void initializeGL() override;
  void paintGL() override;
  void resizeGL(int width, int height) override;

 private:
  void releaseGraphics();

  vtkSmartPointer<vtkGenericOpenGLRenderWindow> window_;
  bool glReady_ = false;
  bool inPaint_ = false;
  QMetaObject::Connection contextConnection_;
};

}  // namespace tessera::ui
